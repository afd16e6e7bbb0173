-- A session's webhook deliveries, newest first (the portal's session page).
CREATE INDEX webhook_deliveries_by_session ON webhook_deliveries (session_id, id);
