//! `fox-engine` command-line interface.
fn main() {
    print!("{}", fox_engine::config::json_schema_text());
}
