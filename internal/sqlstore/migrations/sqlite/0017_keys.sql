-- A seized disk yields nothing (issue 11).
--
-- A channel's secrets that only sending needs (the Telegram bot token, the
-- WhatsApp access token) are sealed apart from those webhook verification
-- needs while sealed: under a data key of the routing compartment owned by
-- "channel:<kind>/<name>", so they open only while unsealed. NULL for a
-- channel saved before: its config (under the intake key) still holds them
-- until it is saved again.
ALTER TABLE channels ADD COLUMN send_config BLOB;

-- Telegram sends no delivery statuses: its outbound provider references
-- served nothing, and over a small message id they let the chat id be
-- recovered by brute force. None is stored any more; the old ones go.
UPDATE messages SET provider_ref = NULL
    WHERE direction = 'out' AND provider_ref IS NOT NULL
      AND contact_id IN (SELECT id FROM contacts WHERE channel = 'telegram');
