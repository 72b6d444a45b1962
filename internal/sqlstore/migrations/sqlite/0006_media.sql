-- Media: photos, voice notes, videos and documents contacts send. A row is
-- made at intake with the provider's id of the file, sealed; the media
-- worker (internal/media) fetches the file at once, checks its magic bytes
-- and size, stores it sealed, deletes it at the provider where the API
-- allows, and then forgets the provider's id. Plaintext never reaches the
-- disk: the content is sealed in memory before it is written.
CREATE TABLE media (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    contact_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,                 -- the message kind: photo, voice, audio, video, document
    mime        TEXT NOT NULL DEFAULT '',      -- as sniffed once stored; the provider's claim until then
    size        INTEGER NOT NULL DEFAULT 0,    -- bytes stored; the provider's claim until then (0: unknown)
    state       TEXT NOT NULL,                 -- pending, stored, rejected, failed
    reason      TEXT NOT NULL DEFAULT '',      -- why rejected or failed; a short fixed phrase, never content
    provider_id BLOB,                          -- sealed (conversation): file_id, media id or MediaUrl; NULL once deleted at the provider
    blob        BLOB,                          -- sealed (conversation): the content; NULL until stored
    created_day TEXT NOT NULL
);
CREATE INDEX media_message ON media (message_id);
CREATE INDEX media_contact ON media (contact_id);
