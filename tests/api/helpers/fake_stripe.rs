//! A small fake of the Stripe API over HTTP, speaking Stripe's wire format (form-encoded
//! requests, JSON objects), for the calls we make: create and retrieve Checkout Sessions and
//! create Billing Portal sessions. It also serves a "hosted checkout page" for browser tests.
#![allow(dead_code)]

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const SECRET_KEY: &str = "sk_test_fake_0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "whsec_test_fake_secret_0123456789";

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Value>,
    requests: Vec<Recorded>,
    next: u32,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeStripe {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = Self { base, inner };
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/billing_portal/sessions", post(create_portal))
            .route("/pay/{id}", get(hosted_page).post(hosted_pay))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn session(&self, id: &str) -> Value {
        self.inner.lock().unwrap().sessions[id].clone()
    }

    /// Marks a session paid by `email` (what the hosted page does), for API-level tests.
    pub fn pay(&self, id: &str, email: &str) {
        let mut g = self.inner.lock().unwrap();
        let s = g.sessions.get_mut(id).unwrap();
        mark_paid(s, email);
    }

    /// The last session created.
    pub fn last_session_id(&self) -> String {
        let g = self.inner.lock().unwrap();
        g.sessions
            .keys()
            .max()
            .cloned()
            .expect("a session was created")
    }
}

fn record(
    f: &FakeStripe,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    params: BTreeMap<String, String>,
) {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    f.inner.lock().unwrap().requests.push(Recorded {
        method: method.into(),
        path: path.into(),
        params,
        idempotency_key: h("idempotency-key"),
        authorization: h("authorization"),
    });
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {SECRET_KEY}"))
}

fn stripe_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": "invalid_request_error", "message": message}})),
    )
        .into_response()
}

fn mark_paid(s: &mut Value, email: &str) {
    s["payment_status"] = json!("paid");
    s["status"] = json!("complete");
    s["customer"] = json!("cus_fake_1");
    s["customer_details"] = json!({"address": null, "email": email, "name": "Test Buyer", "phone": null, "tax_exempt": "none", "tax_ids": []});
    if s["mode"] == "subscription" {
        s["subscription"] = json!(format!("sub_{}", &s["id"].as_str().unwrap()[3..]));
    } else {
        s["payment_intent"] = json!(format!("pi_{}", &s["id"].as_str().unwrap()[3..]));
    }
}

async fn create_session(
    State(f): State<FakeStripe>,
    headers: HeaderMap,
    Form(params): Form<BTreeMap<String, String>>,
) -> Response {
    record(
        &f,
        "POST",
        "/v1/checkout/sessions",
        &headers,
        params.clone(),
    );
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    // Check the parameters our code must send, as Stripe would.
    for required in [
        "mode",
        "line_items[0][price]",
        "line_items[0][quantity]",
        "success_url",
        "cancel_url",
        "client_reference_id",
        "metadata[tier]",
    ] {
        if !params.contains_key(required) {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                &format!("Missing required param: {required}."),
            );
        }
    }
    if !params["success_url"].contains("{CHECKOUT_SESSION_ID}") {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "success_url lacks {CHECKOUT_SESSION_ID}",
        );
    }
    let id = {
        let mut g = f.inner.lock().unwrap();
        g.next += 1;
        format!("cs_test_{:04}{}", g.next, "a1b2c3d4e5")
    };
    // A complete checkout.session object as the API returns it (async-stripe parses it whole).
    let mut session: Value = serde_json::from_str(SESSION_TEMPLATE).unwrap();
    session["id"] = json!(id);
    session["cancel_url"] = json!(params["cancel_url"]);
    session["success_url"] = json!(params["success_url"]);
    session["client_reference_id"] = json!(params["client_reference_id"]);
    session["metadata"] = json!({"tier": params["metadata[tier]"]});
    session["mode"] = json!(params["mode"]);
    session["url"] = json!(format!("{}/pay/{id}", f.base));
    f.inner.lock().unwrap().sessions.insert(id, session.clone());
    Json(session).into_response()
}

async fn retrieve_session(
    State(f): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    record(
        &f,
        "GET",
        &format!("/v1/checkout/sessions/{id}"),
        &headers,
        BTreeMap::new(),
    );
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    match f.inner.lock().unwrap().sessions.get(&id) {
        Some(s) => Json(s.clone()).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

async fn create_portal(
    State(f): State<FakeStripe>,
    headers: HeaderMap,
    Form(params): Form<BTreeMap<String, String>>,
) -> Response {
    record(
        &f,
        "POST",
        "/v1/billing_portal/sessions",
        &headers,
        params.clone(),
    );
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    let Some(customer) = params.get("customer") else {
        return stripe_error(StatusCode::BAD_REQUEST, "Missing required param: customer.");
    };
    Json(json!({
        "id": "bps_fake_1", "object": "billing_portal.session", "configuration": "bpc_fake_1", "created": 1764460800,
        "customer": customer, "customer_account": null, "flow": null, "livemode": false, "locale": null, "on_behalf_of": null,
        "return_url": params.get("return_url"), "url": format!("{}/portal/{customer}", f.base)
    }))
    .into_response()
}

/// The "hosted checkout page": an email field and a Pay button.
async fn hosted_page(State(f): State<FakeStripe>, Path(id): Path<String>) -> Response {
    if !f.inner.lock().unwrap().sessions.contains_key(&id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    Html(format!(
        "<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body><h1>Pay Fox ML Infrastructure</h1>\
         <form method=\"post\" action=\"/pay/{id}\"><label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" value=\"buyer@quant.example\">\
         <button id=\"pay\" type=\"submit\">Pay</button></form></body></html>"
    ))
    .into_response()
}

async fn hosted_pay(
    State(f): State<FakeStripe>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let success = {
        let mut g = f.inner.lock().unwrap();
        let Some(s) = g.sessions.get_mut(&id) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        mark_paid(
            s,
            form.get("email")
                .map(String::as_str)
                .unwrap_or("buyer@quant.example"),
        );
        s["success_url"]
            .as_str()
            .unwrap()
            .replace("{CHECKOUT_SESSION_ID}", &id)
    };
    Redirect::to(&success).into_response()
}

/// A signed webhook delivery, as Stripe sends it.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "object": "event", "type": kind, "created": created, "api_version": "2025-03-31.basil", "livemode": false, "data": {"object": object}})).unwrap()
}

const SESSION_TEMPLATE: &str = r#"{
  "id": "", "object": "checkout.session", "adaptive_pricing": null, "after_expiration": null,
  "allow_promotion_codes": null, "amount_subtotal": 49000, "amount_total": 49000,
  "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
  "billing_address_collection": null, "cancel_url": null, "client_reference_id": null, "client_secret": null,
  "collected_information": null, "consent": null, "consent_collection": null, "created": 1764460800,
  "currency": "usd", "currency_conversion": null, "custom_fields": [],
  "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
  "customer": null, "customer_creation": "if_required", "customer_details": null, "customer_email": null,
  "discounts": [], "expires_at": 1764547200, "invoice": null, "invoice_creation": null, "livemode": false,
  "locale": null, "metadata": {}, "mode": "payment", "payment_intent": null, "payment_link": null,
  "payment_method_collection": "if_required", "payment_method_configuration_details": null,
  "payment_method_options": {"card": {"request_three_d_secure": "automatic"}}, "payment_method_types": ["card"],
  "payment_status": "unpaid", "permissions": null, "phone_number_collection": {"enabled": false},
  "recovered_from": null, "saved_payment_method_options": null, "setup_intent": null,
  "shipping_address_collection": null, "shipping_cost": null, "shipping_options": [], "status": "open",
  "submit_type": null, "subscription": null, "success_url": null,
  "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}, "ui_mode": "hosted",
  "url": null, "wallet_options": null
}"#;
