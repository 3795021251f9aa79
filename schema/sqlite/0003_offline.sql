-- SPDX-License-Identifier: ISC
-- Offline messages (SQLite, XEP-0160): stanzas kept for an account until a session fetches them.
-- seq orders a user's messages; the stanza is the XML as delivered, its <delay/> included.
CREATE TABLE offline_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    created_at INTEGER NOT NULL, -- seconds since the epoch
    sender TEXT NOT NULL,
    stanza TEXT NOT NULL
);
CREATE UNIQUE INDEX offline_messages_user ON offline_messages (host, username, seq);
CREATE INDEX offline_messages_created ON offline_messages (created_at);
