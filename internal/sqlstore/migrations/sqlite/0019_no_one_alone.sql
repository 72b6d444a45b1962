-- No one alone (issue 11 §1): an account made or a role changed at the
-- command line is pending until a supervisor, not the account itself,
-- approves it in the console; each account records how it came to exist
-- and who approved it, so that a two-person rule counts people
-- (lifeline.SecondPerson). API tokens are made by their own operator in the
-- console, with a scope and an expiry.
ALTER TABLE operators ADD COLUMN approval TEXT NOT NULL DEFAULT 'approved';  -- pending, approved, refused
ALTER TABLE operators ADD COLUMN origin TEXT NOT NULL DEFAULT 'seeded';      -- bootstrap, proposed, seeded (lifeline.Origin)
ALTER TABLE operators ADD COLUMN approved_by TEXT REFERENCES operators (id); -- the supervisor who approved its creation
ALTER TABLE operators ADD COLUMN pending_role TEXT;                          -- a role change waiting for approval
ALTER TABLE operators ADD COLUMN role_approved_by TEXT REFERENCES operators (id); -- the supervisor who approved its current role
-- Accounts made before approvals were recorded stood on the command line's
-- word alone.
UPDATE operators SET origin = 'bootstrap';

ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'reply';       -- read, reply (lifeline.TokenScope)
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
-- Tokens minted at the command line for anyone, without a password or a
-- code, expire now: their operators make new ones in the console.
UPDATE api_tokens SET expires_at = created_at;
