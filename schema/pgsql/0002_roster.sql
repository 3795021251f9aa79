-- SPDX-License-Identifier: ISC
-- Rosters (pgsql): one row per (user, contact) with the RFC 6121 subscription state, and a version.
CREATE TABLE roster_items (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,              -- the contact's bare JID
    name TEXT,                      -- NULL: no name
    grps TEXT NOT NULL DEFAULT '',  -- group names joined by LF, backslash-escaped
    sub INTEGER NOT NULL DEFAULT 0, -- bits: 1 = to, 2 = from
    ask INTEGER NOT NULL DEFAULT 0, -- 1: pending out
    pending_in INTEGER NOT NULL DEFAULT 0, -- 1: an inbound request waits for an answer
    pending_status TEXT,            -- the <status/> of that request, shown again at login
    approved INTEGER NOT NULL DEFAULT 0,   -- 1: pre-approved (RFC 6121 §3.4)
    listed INTEGER NOT NULL DEFAULT 1,     -- 0: not in the roster the client sees
    PRIMARY KEY (host, username, jid)
);

CREATE TABLE roster_version (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (host, username)
);
