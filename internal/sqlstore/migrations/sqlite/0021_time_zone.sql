-- Each operator sees times in his own time zone (an IANA name), Kyiv's
-- unless he chooses another on the console's settings page. Times are
-- stored in UTC as before; only their display follows the zone.
ALTER TABLE operators ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Europe/Kyiv';
