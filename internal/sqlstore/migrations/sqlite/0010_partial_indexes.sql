-- Inbound messages have no provider reference: index only the outbound
-- ones that do, so that storing a soldier's message touches one B-tree
-- fewer. Status updates look up `provider_ref = ?`, which implies NOT NULL,
-- so they still use the index.
DROP INDEX messages_provider_ref;
CREATE UNIQUE INDEX messages_provider_ref ON messages (provider_ref) WHERE provider_ref IS NOT NULL;
