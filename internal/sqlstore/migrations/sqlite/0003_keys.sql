-- Keys (SECURITY.md §2.2–2.3). The root keyring and the compartment key
-- pairs are not here: they live in the data directory's keys/ folder, the
-- root keys encrypted under the unseal key and the compartments' private
-- halves under the root key, so that a copy of the database alone opens
-- nothing, and destroying an epoch's private half in keys/ makes every copy
-- of a data key wrapped to it (free pages, WAL, backups) unreadable.
--
-- data_keys: one 256-bit data key per owner (a case, a contact, a message
-- stored while sealed) and compartment, wrapped (HPKE) to a compartment
-- epoch's public key. Deleting an owner's rows crypto-shreds everything it
-- encrypted.
CREATE TABLE data_keys (
    id          BLOB PRIMARY KEY,      -- seal.KeyID, named in each ciphertext
    owner       TEXT NOT NULL,         -- "case:<id>", "contact:<id>", …
    compartment TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    wrapped     BLOB NOT NULL,
    created_day TEXT NOT NULL,
    UNIQUE (owner, compartment)
);
CREATE INDEX data_keys_epoch ON data_keys (compartment, epoch);
