-- SPDX-License-Identifier: ISC
-- Offline messages (PostgreSQL, XEP-0160): stanzas kept for an account until a session fetches
-- them. seq orders a user's messages; the stanza is the XML as delivered, its <delay/> included.
CREATE TABLE offline_messages (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    created_at BIGINT NOT NULL, -- seconds since the epoch
    sender TEXT NOT NULL,
    stanza TEXT NOT NULL,
    PRIMARY KEY (host, username, seq)
);
CREATE INDEX offline_messages_created ON offline_messages (created_at);
