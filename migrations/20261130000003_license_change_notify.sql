-- Servers cache license lookups for the validation API; every change to licenses, their keys
-- or machines notifies them (after commit) so that caches are dropped at once everywhere.

CREATE FUNCTION fox_notify_license_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fox_license_changed', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER licenses_changed AFTER INSERT OR UPDATE OR DELETE ON licenses
    FOR EACH STATEMENT EXECUTE FUNCTION fox_notify_license_change();
CREATE TRIGGER license_keys_changed AFTER INSERT OR UPDATE OR DELETE ON license_keys
    FOR EACH STATEMENT EXECUTE FUNCTION fox_notify_license_change();
CREATE TRIGGER machines_changed AFTER INSERT OR DELETE ON machines
    FOR EACH STATEMENT EXECUTE FUNCTION fox_notify_license_change();
-- Machine updates matter only when a machine is deactivated (last_seen_at changes do not).
CREATE TRIGGER machines_deactivated AFTER UPDATE OF deactivated_at ON machines
    FOR EACH STATEMENT EXECUTE FUNCTION fox_notify_license_change();
