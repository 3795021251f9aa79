# SPDX-License-Identifier: ISC
# Client entity caps (XEP-0115): the server's disco#info queries, one per 'ver', verified before
# being shared; wrong hashes, errors, silence and departures; the presence itself unchanged.

import base64
import hashlib
import re

import harness
from harness import PASSWORD, unique
import rawxmpp
from rawxmpp import NS_CLIENT, q, to_string, xml_escape

SRV = None
NS_DISCO = 'http://jabber.org/protocol/disco#info'
NS_CAPS = 'http://jabber.org/protocol/caps'
NODE = 'https://starling.example/itest-client'
USERS = ('anna', 'bert', 'cleo', 'dora', 'emil')
TIMEOUT = 2


def setUpModule():
    global SRV
    SRV = harness.module_server(
        'caps', accounts={u: PASSWORD for u in USERS + ('chat-a', 'chat-b')},
        modules={'disco': {}, 'roster': {}, 'caps': {'query_timeout': '%ds' % TIMEOUT}})


def tearDownModule():
    harness.module_teardown(SRV)


def features():
    """A feature list unique to the calling test, so that every test has its own 'ver'."""
    return sorted([NS_DISCO, NS_CAPS, 'urn:xmpp:avatar:metadata+notify',
                   'urn:itest:%s' % unique('f')])


def ver_of(feats, name='Itest'):
    s = 'client/pc//%s<' % name + ''.join('%s<' % f for f in sorted(feats))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def caps_presence(ver, hash_='sha-1', node=NODE):
    h = " hash='%s'" % hash_ if hash_ is not None else ''
    return ("<presence><c xmlns='%s'%s node='%s' ver='%s'/></presence>"
            % (NS_CAPS, h, xml_escape(node), xml_escape(ver)))


def is_disco_query(el):
    return (el.tag == q(NS_CLIENT, 'iq') and el.get('type') == 'get'
            and el.find(q(NS_DISCO, 'query')) is not None)


class Caps(harness.TestCase):
    def expect_query(self, c, ver, node=NODE, timeout=5):
        """The server's disco#info query to c, exactly; returns its id."""
        el = c.recv_match(is_disco_query, timeout=timeout)
        self.assertEqual(el.get('from'), 'localhost', to_string(el))
        self.assertEqual(el.get('to'), c.jid, to_string(el))
        qe = el.find(q(NS_DISCO, 'query'))
        self.assertEqual(dict(qe.attrib), {'node': '%s#%s' % (node, ver)}, to_string(el))
        self.assertEqual(len(qe), 0)
        return el.get('id')

    def expect_no_query(self, c, timeout=1.0):
        c.sync()
        try:
            el = c.recv_match(is_disco_query, timeout=timeout)
        except rawxmpp.Timeout:
            return
        self.fail('unexpected disco#info query: %s' % to_string(el))

    def answer(self, c, iid, feats, node=NODE, ver=None, name='Itest'):
        body = "<identity category='client' type='pc' name='%s'/>" % name
        body += ''.join("<feature var='%s'/>" % f for f in feats)
        c.send("<iq type='result' id='%s' to='localhost'><query xmlns='%s' node='%s#%s'>%s"
               "</query></iq>" % (iid, NS_DISCO, node, ver or ver_of(feats, name), body))

    def test_one_query_per_ver_and_cached(self):
        feats = features()
        ver = ver_of(feats)
        a = self.login('anna', presence=False)
        b = self.login('bert', presence=False)
        mark = SRV.log_size()
        a.send(caps_presence(ver))
        iid = self.expect_query(a, ver)
        # the same ver while the query runs: b waits for a's answer instead of being asked
        b.send(caps_presence(ver))
        self.expect_no_query(b)
        self.answer(a, iid, feats)
        SRV.wait_log(r'caps: %d features known for 2 session\(s\)' % len(feats), since=mark)
        # verified and cached: a third session with that ver is not asked
        c = self.login('cleo', presence=False)
        mark = SRV.log_size()
        c.send(caps_presence(ver))
        SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(feats), since=mark)
        self.expect_no_query(c)
        # the same presence again asks nothing and fires nothing
        mark = SRV.log_size()
        a.send(caps_presence(ver))
        self.expect_no_query(a)
        self.assertNotIn('features known', SRV.log_text()[mark:])

    def test_presence_routed_unchanged(self):
        feats = features()
        ver = ver_of(feats)
        a1 = self.login('dora', presence=False)
        a2 = self.login('dora', presence=True)
        a1.send("<presence><show>away</show><c xmlns='%s' hash='sha-1' node='%s' ver='%s'/>"
                "<priority>3</priority></presence>" % (NS_CAPS, NODE, ver))
        # the roster module still broadcasts it, <c/> and all, to the user's other resource
        a2.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and e.get('from') == a1.jid)
        m = re.search(r"<presence [^>]*from='%s'[^>]*>.*?</presence>" % re.escape(a1.jid),
                      a2.received, re.S)
        self.assertEqual(m.group(0),
                         "<presence from='%s' to='%s'><show>away</show>"
                         "<c xmlns='%s' hash='sha-1' node='%s' ver='%s'/><priority>3</priority>"
                         "</presence>" % (a1.jid, a2.jid, NS_CAPS, NODE, ver))
        self.answer(a1, self.expect_query(a1, ver), feats)

    def test_wrong_hash_is_not_shared(self):
        feats = features()
        bad = ver_of(feats + ['urn:itest:missing'])
        a = self.login('anna', presence=False)
        b = self.login('bert', presence=False)
        c = self.login('cleo', presence=False)
        mark = SRV.log_size()
        a.send(caps_presence(bad))
        iid = self.expect_query(a, bad)
        b.send(caps_presence(bad))
        self.expect_no_query(b)
        self.answer(a, iid, feats, ver=bad)
        SRV.wait_log(r'caps: %s answered with ver \S+, not %s: not shared'
                     % (a.jid.replace('.', r'\.'), bad.replace('+', r'\+')), since=mark)
        # a keeps what it said for itself; b, who waited, is asked itself (§5.4)
        SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(feats), since=mark)
        iid = self.expect_query(b, bad)
        self.answer(b, iid, feats, ver=bad)
        # nothing was cached: the next session with that ver is asked again
        c.send(caps_presence(bad))
        iid = self.expect_query(c, bad)
        self.answer(c, iid, feats, ver=bad)

    def test_error_and_silence(self):
        feats = features()
        ver = ver_of(feats)
        a = self.login('anna', presence=False)
        b = self.login('bert', presence=False)
        c = self.login('cleo', presence=False)
        with harness.Chatter(SRV):
            mark = SRV.log_size()
            a.send(caps_presence(ver))
            iid = self.expect_query(a, ver)
            # a never answers; b waits behind it
            b.send(caps_presence(ver))
            self.expect_no_query(b)
            SRV.wait_log(r'caps: no features from %s \(timeout\)' % a.jid.replace('.', r'\.'),
                         since=mark, timeout=TIMEOUT + 5)
            # then b is asked, and answers with an error
            iid = self.expect_query(b, ver)
            b.send("<iq type='error' id='%s' to='localhost'><query xmlns='%s'/><error "
                   "type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'"
                   "/></error></iq>" % (iid, NS_DISCO))
            SRV.wait_log(r'caps: no features from %s \(error\)' % b.jid.replace('.', r'\.'),
                         since=mark)
            # no retry storm: the same presence again asks nothing
            a.send(caps_presence(ver))
            b.send(caps_presence(ver))
            self.expect_no_query(a)
            self.expect_no_query(b)
            # nothing cached: c is asked, answers, and the ver is known from then on
            c.send(caps_presence(ver))
            self.answer(c, self.expect_query(c, ver), feats)
            SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(feats), since=mark)
            d = self.login('dora', presence=False)
            d.send(caps_presence(ver))
            self.expect_no_query(d)
        a.sync()

    def test_answer_from_elsewhere_is_ignored(self):
        feats = features()
        ver = ver_of(feats)
        a = self.login('anna', presence=False)
        e = self.login('emil', presence=False)
        mark = SRV.log_size()
        a.send(caps_presence(ver))
        iid = self.expect_query(a, ver)
        # someone else answers in a's place: not taken
        self.answer(e, iid, feats)
        SRV.wait_log(r'caps: no features from %s \(answered by another JID\)'
                     % re.escape(a.jid), since=mark)
        b = self.login('bert', presence=False)
        b.send(caps_presence(ver))
        self.answer(b, self.expect_query(b, ver), feats)

    def test_asked_session_leaves(self):
        feats = features()
        ver = ver_of(feats)
        a = self.login('anna', presence=False)
        b = self.login('bert', presence=False)
        a.send(caps_presence(ver))
        self.expect_query(a, ver)
        b.send(caps_presence(ver))
        self.expect_no_query(b)
        # a drops its TCP connection: b is asked at once, not after the timeout
        jid = a.jid
        a.sock.close()
        a.closed = True
        SRV.wait_disconnected(jid)
        iid = self.expect_query(b, ver, timeout=TIMEOUT - 0.5)
        mark = SRV.log_size()
        self.answer(b, iid, feats)
        SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(feats), since=mark)

    def test_legacy_and_other_hashes_stay_private(self):
        feats = features()
        for hash_ in (None, 'sha-256'):
            a = self.login('anna', presence=False)
            b = self.login('bert', presence=False)
            ver = 'legacy-%s' % unique('v') if hash_ is None else ver_of(feats)
            mark = SRV.log_size()
            a.send(caps_presence(ver, hash_))
            self.answer(a, self.expect_query(a, ver), feats)
            SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(feats), since=mark)
            # not shared: b with the same ver is asked itself
            b.send(caps_presence(ver, hash_))
            self.answer(b, self.expect_query(b, ver), feats)
            a.close()
            b.close()
            SRV.wait_disconnected(a.jid)
            SRV.wait_disconnected(b.jid)

    def test_new_ver_after_unavailable_and_change(self):
        f1, f2 = features(), features()
        v1, v2 = ver_of(f1), ver_of(f2)
        a = self.login('emil', presence=False)
        a.send(caps_presence(v1))
        self.answer(a, self.expect_query(a, v1), f1)
        # a new ver: asked again
        a.send(caps_presence(v2))
        mark = SRV.log_size()
        self.answer(a, self.expect_query(a, v2), f2)
        SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(f2), since=mark)
        # back to v1 (cached): known at once, no query
        mark = SRV.log_size()
        a.send(caps_presence(v1))
        SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(f1), since=mark)
        self.expect_no_query(a)
        # unavailable forgets; available again with v1 makes it known again
        a.send("<presence type='unavailable'/>")
        mark = SRV.log_size()
        a.send(caps_presence(v1))
        SRV.wait_log(r'caps: %d features known for 1 session\(s\)' % len(f1), since=mark)

    def test_bad_caps_attributes_ignored(self):
        a = self.login('cleo', presence=False)
        a.send("<presence><c xmlns='%s' hash='sha-1' node='%s'/></presence>" % (NS_CAPS, NODE))
        a.send("<presence><c xmlns='%s' hash='sha-1' ver='x'/></presence>" % NS_CAPS)
        a.send(caps_presence('v' * 2000))
        self.expect_no_query(a)
