-- SMS opt-out (WIRE-FORMATS.md §3.3, §3.7): a contact who texts STOP to a
-- number gets nothing more from it until he texts START; Twilio refuses
-- such a send with error 21610. Kept per contact and channel, not per
-- conversation: a conversation opened later with the same number is
-- opted out all the same. A row is the opt-out; START deletes it.
CREATE TABLE opt_outs (
    contact_id   TEXT NOT NULL REFERENCES contacts (id),
    channel_kind TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    source       TEXT NOT NULL,   -- stop: the contact texted a STOP keyword; 21610: the provider refused a send
    since_day    TEXT NOT NULL,
    PRIMARY KEY (contact_id, channel_kind, channel_name)
);
