-- The exact blind index of a contact's handle was a whole HMAC-SHA256: with
-- the index key, testing a suspect's number against it confirmed him with
-- certainty. It is now truncated, its width following the number of
-- contacts (SECURITY.md §2.4: about log2(rows) - 1 bits, so that each index
-- value is shared by two to four contacts and most innocent numbers find an
-- occupied one too); lookups confirm candidates by decrypting their handles.
-- handle_tag is the width in bits times 2^32 plus the truncated value, so that
-- rows indexed at different widths (while the store re-indexes after the
-- number of contacts doubled or halved) never match each other by accident.
-- It is not unique: contacts share tags by design.
--
-- The old whole indexes are dropped, and the separate 16-bit bucket with
-- them (the tag serves duplicate checks across cases now); the store
-- computes the tags from the sealed handles at the next unseal (Reseal),
-- before which no lookup is possible anyway.
DROP INDEX contacts_handle;
DROP INDEX contacts_bucket;
ALTER TABLE contacts DROP COLUMN handle_index;
ALTER TABLE contacts DROP COLUMN handle_bucket;
ALTER TABLE contacts ADD COLUMN handle_tag INTEGER;  -- NULL until indexed (stored while sealed)
CREATE INDEX contacts_handle_tag ON contacts (channel, handle_tag);
