-- SPDX-License-Identifier: ISC
-- vcard-temp (XEP-0054) and private XML storage (XEP-0049), SQLite; rows go with their account.
CREATE TABLE vcards (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    vcard TEXT NOT NULL, -- the <vCard xmlns='vcard-temp'/> element as serialized XML
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);

-- One stored element per (namespace, local name): a child of <query xmlns='jabber:iq:private'/>.
CREATE TABLE private_storage (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL, -- the element as serialized XML
    PRIMARY KEY (host, username, namespace, name),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);
