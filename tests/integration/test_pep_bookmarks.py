# SPDX-License-Identifier: ISC
# XEP-0402 urn:xmpp:bookmarks:1#compat: XEP-0048 bookmarks in private storage (XEP-0049) and
# XEP-0402 PEP bookmarks kept alike in both directions, without loops; exact stanzas.

import base64
import hashlib
import os
import re
import sqlite3
import time

import harness
from harness import PASSWORD, unique
import rawxmpp
from rawxmpp import NS_CLIENT, q, to_string

SRV = None
NS_DISCO = 'http://jabber.org/protocol/disco#info'
NS_CAPS = 'http://jabber.org/protocol/caps'
NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
NS_OWNER = NS_PUBSUB + '#owner'
NS_EVENT = NS_PUBSUB + '#event'
NS_BM2 = 'urn:xmpp:bookmarks:1'
NS_BM = 'storage:bookmarks'
NS_PRIVATE = 'jabber:iq:private'
CAPS_NODE = 'https://starling.example/itest-bookmarks'


def setUpModule():
    global SRV
    SRV = harness.module_server(
        'pepbm', accounts={},
        modules={'disco': {}, 'roster': {}, 'caps': {}, 'private': {}, 'pep': {}})


def tearDownModule():
    harness.module_teardown(SRV)


def new_user(prefix):
    u = unique(prefix)
    SRV.register(u)
    return u


def db_exec(sql):
    """A write on the server's database (the harness only reads)."""
    if SRV.backend == 'sqlite':
        con = sqlite3.connect(os.path.join(SRV.tmp, 'db.sqlite'), timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        harness.psql(harness.pg_conninfo(SRV.pg_db), sql)


def ver_of(feats):
    s = 'client/pc//Itest<' + ''.join('%s<' % f for f in sorted(feats))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def raw_last(c, pattern):
    """The last stanza of c's received text matching pattern (a regex), with ids kept."""
    found = re.findall(pattern, c.received, re.S)
    assert found, 'nothing matches %r in %r' % (pattern, c.received[-3000:])
    return found[-1]


class PepBookmarks(harness.TestCase):
    def caps_login(self, user, nodes):
        c = self.login(user, presence=False)
        feats = sorted([NS_DISCO, NS_CAPS, 'urn:itest:%s' % unique('f')]
                       + ['%s+notify' % n for n in nodes])
        ver = ver_of(feats)
        c.send("<presence><c xmlns='%s' hash='sha-1' node='%s' ver='%s'/></presence>"
               % (NS_CAPS, CAPS_NODE, ver))
        iq = c.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('type') == 'get'
                          and e.find(q(NS_DISCO, 'query')) is not None)
        body = "<identity category='client' type='pc' name='Itest'/>"
        body += ''.join("<feature var='%s'/>" % f for f in feats)
        c.send("<iq type='result' id='%s' to='localhost'><query xmlns='%s' node='%s#%s'>%s"
               "</query></iq>" % (iq.get('id'), NS_DISCO, CAPS_NODE, ver, body))
        c.sync()
        return c

    def exchange(self, c, itype, payload, to=None):
        """Sends an iq, waits for its answer, returns its exact serialized form (id 'ID')."""
        iid = c.next_id('iq')
        c.send("<iq type='%s' id='%s'%s>%s</iq>"
               % (itype, iid, " to='%s'" % to if to else '', payload))
        c.recv_match(lambda e: e.get('id') == iid)
        m = re.search(r"<iq (?:[^>]*? )?id='%s'[^>]*?(?:/>|>.*?</iq>)" % re.escape(iid),
                      c.received, re.S)
        return m.group(0).replace(iid, 'ID')

    def private_get(self, c):
        return self.exchange(c, 'get', "<query xmlns='%s'><storage xmlns='%s'/></query>"
                             % (NS_PRIVATE, NS_BM))

    def private_set(self, c, storage):
        self.assertEqual(self.exchange(c, 'set', "<query xmlns='%s'>%s</query>"
                                       % (NS_PRIVATE, storage)),
                         "<iq type='result' id='ID' to='%s'/>" % c.jid)

    def wait_private(self, c, want, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            got = self.private_get(c)
            if got == want or time.monotonic() > deadline:
                self.assertEqual(got, want)
                return
            time.sleep(0.1)

    def items(self, c):
        raw = self.exchange(c, 'get', "<pubsub xmlns='%s'><items node='%s'/></pubsub>"
                            % (NS_PUBSUB, NS_BM2))
        m = re.search(r"<items node='[^']*'>(.*)</items>", raw, re.S)
        return m.group(1) if m else raw

    def expect_event(self, c, inner):
        """The next bookmarks notification of c is exactly inner (inside <items/>)."""
        el = c.recv_match(lambda e: e.tag == q(NS_CLIENT, 'message')
                          and e.find(q(NS_EVENT, 'event')) is not None, timeout=5)
        user = c.jid.split('/')[0]
        want = ("<message xmlns='jabber:client' type='headline' to='%s' from='%s'>"
                "<event xmlns='%s'><items node='%s'>%s</items></event></message>"
                % (c.jid, user, NS_EVENT, NS_BM2, inner))
        self.assertEqual(to_string(el), to_string(rawxmpp.ET.fromstring(want)))

    def expect_no_event(self, c, timeout=0.7):
        c.sync()
        try:
            el = c.recv_match(lambda e: e.find(q(NS_EVENT, 'event')) is not None,
                              timeout=timeout)
        except rawxmpp.Timeout:
            return
        self.fail('unexpected notification: %s' % to_string(el))

    def test_feature(self):
        u = new_user('bmf')
        c = self.login(u)
        r = c.iq('get', "<query xmlns='%s'/>" % NS_DISCO, to='%s@localhost' % u)
        feats = [f.get('var') for f in r.find(q(NS_DISCO, 'query')).findall(q(NS_DISCO,
                                                                                'feature'))]
        self.assertEqual(feats.count(NS_BM2 + '#compat'), 1)

    def test_private_set_goes_to_pep(self):
        u = new_user('bmp')
        c = self.caps_login(u, [NS_BM2])
        self.private_set(c, "<storage xmlns='%s'>"
                         "<conference jid='Play@Chat.Shakespeare.lit' name='The Play' "
                         "autojoin='true'><nick>JC</nick><password>pw</password></conference>"
                         "<url name='Site' url='https://example.org/'/>"
                         "<conference jid='orchard@chat.shakespeare.lit' autojoin='0'/>"
                         "<conference jid='not a jid'/>"
                         "<conference jid='play@chat.shakespeare.lit' name='dup'/>"
                         "</storage>" % NS_BM)
        conf1 = ("<conference xmlns='%s' name='The Play' autojoin='true'><nick>JC</nick>"
                 "<password>pw</password></conference>" % NS_BM2)
        conf2 = "<conference xmlns='%s'/>" % NS_BM2
        self.expect_event(c, "<item id='play@chat.shakespeare.lit'>%s</item>" % conf1)
        self.expect_event(c, "<item id='orchard@chat.shakespeare.lit'>%s</item>" % conf2)
        self.expect_no_event(c)
        self.assertEqual(self.items(c),
                         "<item id='orchard@chat.shakespeare.lit'>%s</item>"
                         "<item id='play@chat.shakespeare.lit'>%s</item>" % (conf2, conf1))
        # XEP-0402 §3.1's node configuration
        self.assertEqual(SRV.db_rows(
            "SELECT max_items, access_model, persist_items, send_last FROM pep_nodes "
            "WHERE username = '%s'" % u), [('-1', 'whitelist', '1', 'never')])
        # no loop: the private document is the client's own, <url/> and all
        time.sleep(0.3)
        self.assertIn("<url name='Site' url='https://example.org/'/>", self.private_get(c))
        self.assertIn("name='dup'", self.private_get(c))
        # a change: one room renamed, one gone, one new; unchanged ones are not republished
        self.private_set(c, "<storage xmlns='%s'>"
                         "<conference jid='orchard@chat.shakespeare.lit' name='Orchard'/>"
                         "<conference jid='balcony@chat.shakespeare.lit'><nick>R</nick>"
                         "</conference></storage>" % NS_BM)
        conf2 = "<conference xmlns='%s' name='Orchard'/>" % NS_BM2
        conf3 = "<conference xmlns='%s'><nick>R</nick></conference>" % NS_BM2
        self.expect_event(c, "<item id='orchard@chat.shakespeare.lit'>%s</item>" % conf2)
        self.expect_event(c, "<item id='balcony@chat.shakespeare.lit'>%s</item>" % conf3)
        self.expect_event(c, "<retract id='play@chat.shakespeare.lit'/>")
        self.expect_no_event(c)
        self.private_set(c, "<storage xmlns='%s'>"
                         "<conference jid='orchard@chat.shakespeare.lit' name='Orchard'/>"
                         "<conference jid='balcony@chat.shakespeare.lit'><nick>R</nick>"
                         "</conference></storage>" % NS_BM)
        self.expect_no_event(c)
        self.assertEqual(SRV.db_rows(
            "SELECT item_id, payload FROM pep_items WHERE username = '%s' ORDER BY item_id"
            % u), [('balcony@chat.shakespeare.lit', conf3),
                   ('orchard@chat.shakespeare.lit', conf2)])
        # other private elements are not bookmarks
        self.private_set(c, "<storage xmlns='urn:itest:other'><conference jid='x@y'/></storage>")
        self.expect_no_event(c)

    def test_pep_goes_to_private(self):
        u = new_user('bmq')
        c = self.caps_login(u, [NS_BM2])
        self.private_set(c, "<storage xmlns='%s'><url name='Site' url='https://example.org/'/>"
                         "<conference jid='old@muc.example'/></storage>" % NS_BM)
        self.expect_event(c, "<item id='old@muc.example'><conference xmlns='%s'/></item>"
                          % NS_BM2)
        opts = ("<publish-options><x xmlns='jabber:x:data' type='submit'>"
                "<field var='FORM_TYPE' type='hidden'><value>%s#publish-options</value></field>"
                "<field var='pubsub#persist_items'><value>true</value></field>"
                "<field var='pubsub#max_items'><value>max</value></field>"
                "<field var='pubsub#send_last_published_item'><value>never</value></field>"
                "<field var='pubsub#access_model'><value>whitelist</value></field>"
                "</x></publish-options>" % NS_PUBSUB)
        conf = ("<conference xmlns='%s' name='Council' autojoin='true'><nick>me</nick>"
                "<extensions><state xmlns='urn:itest'/></extensions></conference>" % NS_BM2)
        r = self.exchange(c, 'set', "<pubsub xmlns='%s'><publish node='%s'><item "
                          "id='council@muc.example'>%s</item></publish>%s</pubsub>"
                          % (NS_PUBSUB, NS_BM2, conf, opts))
        self.assertEqual(r, "<iq type='result' id='ID' to='%s'><pubsub xmlns='%s'><publish "
                         "node='%s'><item id='council@muc.example'/></publish></pubsub></iq>"
                         % (c.jid, NS_PUBSUB, NS_BM2))
        self.expect_event(c, "<item id='council@muc.example'>%s</item>" % conf)
        self.wait_private(
            c, "<iq type='result' id='ID' to='%s'><query xmlns='%s'><storage xmlns='%s'>"
            "<url name='Site' url='https://example.org/'/>"
            "<conference jid='old@muc.example'/>"
            "<conference jid='council@muc.example' name='Council' autojoin='true'>"
            "<nick>me</nick></conference></storage></query></iq>" % (c.jid, NS_PRIVATE, NS_BM))
        # no loop: the rewrite of the private document publishes nothing
        self.expect_no_event(c)
        # a retract by the client removes the room from the private document
        r = self.exchange(c, 'set', "<pubsub xmlns='%s'><retract node='%s' notify='true'>"
                          "<item id='old@muc.example'/></retract></pubsub>" % (NS_PUBSUB, NS_BM2))
        self.assertEqual(r, "<iq type='result' id='ID' to='%s'/>" % c.jid)
        self.expect_event(c, "<retract id='old@muc.example'/>")
        self.wait_private(
            c, "<iq type='result' id='ID' to='%s'><query xmlns='%s'><storage xmlns='%s'>"
            "<url name='Site' url='https://example.org/'/>"
            "<conference jid='council@muc.example' name='Council' autojoin='true'>"
            "<nick>me</nick></conference></storage></query></iq>" % (c.jid, NS_PRIVATE, NS_BM))
        self.expect_no_event(c)
        # a private set keeps the XEP-0402 extensions XEP-0048 cannot carry
        self.private_set(c, "<storage xmlns='%s'><conference jid='council@muc.example' "
                         "name='Council 2' autojoin='true'><nick>me</nick></conference>"
                         "</storage>" % NS_BM)
        self.expect_event(c, "<item id='council@muc.example'><conference xmlns='%s' "
                          "name='Council 2' autojoin='true'><nick>me</nick><extensions>"
                          "<state xmlns='urn:itest'/></extensions></conference></item>" % NS_BM2)
        self.expect_no_event(c)
        # a purge of the node empties the private bookmarks as well
        r = self.exchange(c, 'set', "<pubsub xmlns='%s'><purge node='%s'/></pubsub>"
                          % (NS_OWNER, NS_BM2))
        self.assertEqual(r, "<iq type='result' id='ID' to='%s'/>" % c.jid)
        el = c.recv_match(lambda e: e.find(q(NS_EVENT, 'event')) is not None)
        self.assertEqual(to_string(el), to_string(rawxmpp.ET.fromstring(
            "<message xmlns='jabber:client' type='headline' to='%s' from='%s@localhost'>"
            "<event xmlns='%s'><purge node='%s'/></event></message>"
            % (c.jid, u, NS_EVENT, NS_BM2))))
        self.wait_private(c, "<iq type='result' id='ID' to='%s'><query xmlns='%s'><storage "
                          "xmlns='%s'/></query></iq>" % (c.jid, NS_PRIVATE, NS_BM))
        self.expect_no_event(c)

    def test_private_get_from_pep_only(self):
        u = new_user('bmg')
        c = self.login(u)
        empty = ("<iq type='result' id='ID' to='%s'><query xmlns='%s'><storage xmlns='%s'/>"
                 "</query></iq>" % (c.jid, NS_PRIVATE, NS_BM))
        self.assertEqual(self.private_get(c), empty)
        for room, name in (('a@muc.example', 'A'), ('b@muc.example', 'B')):
            r = c.iq('set', "<pubsub xmlns='%s'><publish node='%s'><item id='%s'>"
                     "<conference xmlns='%s' name='%s'><password>s3</password></conference>"
                     "</item></publish></pubsub>" % (NS_PUBSUB, NS_BM2, room, NS_BM2, name))
            self.assertResult(r)
        want = ("<iq type='result' id='ID' to='%s'><query xmlns='%s'><storage xmlns='%s'>"
                "<conference jid='b@muc.example' name='B'><password>s3</password></conference>"
                "</storage></query></iq>" % (c.jid, NS_PRIVATE, NS_BM))
        # the node has the default max_items 1: only the last item is kept
        self.wait_private(c, want)
        # with no private document, the PEP bookmarks are converted on the fly
        deadline = time.monotonic() + 5
        while not SRV.db_rows("SELECT 1 FROM private_storage WHERE username = '%s'" % u):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        db_exec("DELETE FROM private_storage WHERE username = '%s'" % u)
        self.assertEqual(SRV.db_rows("SELECT 1 FROM private_storage WHERE username = '%s'" % u),
                         [])
        self.assertEqual(self.private_get(c), want)
        # another account's bookmarks are not readable; other elements are the private module's
        other = new_user('bmo')
        o = self.login(other)
        r = self.exchange(o, 'get', "<query xmlns='%s'><storage xmlns='%s'/></query>"
                          % (NS_PRIVATE, NS_BM), to='%s@localhost' % u)
        self.assertIn("<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>", r)
        self.assertEqual(self.exchange(c, 'get', "<query xmlns='%s'><x xmlns='urn:itest'/>"
                                       "</query>" % NS_PRIVATE),
                         "<iq type='result' id='ID' to='%s'><query xmlns='%s'><x "
                         "xmlns='urn:itest'/></query></iq>" % (c.jid, NS_PRIVATE))
