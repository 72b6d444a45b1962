-- Placeholder: version 17 belongs to another branch of issue 11. The
-- integrator deletes this file when that branch is merged (0018 follows it).
SELECT 1;
