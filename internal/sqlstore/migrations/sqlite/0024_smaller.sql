-- Two channels on one provider account would split its messages between
-- them (Telegram delivers a bot's updates to one webhook or one poller):
-- account_ref is the intake key's HMAC of what the provider knows the
-- channel by (Telegram: the bot's id from its token; WhatsApp: the phone
-- number id; Twilio: the account and number), never the value itself, and
-- unique. NULL for channels saved before it, until saved again.
ALTER TABLE channels ADD COLUMN account_ref BLOB;
CREATE UNIQUE INDEX channels_account_ref ON channels (account_ref);

-- An export is made once; a download that failed on the way can be made
-- again by the same person for a short while after (sqlstore.RedownloadWindow).
ALTER TABLE exports ADD COLUMN downloaded_by TEXT;
ALTER TABLE exports ADD COLUMN downloaded_at TEXT;
