# SPDX-License-Identifier: ISC
# XEP-0398 avatar conversion: a vCard photo becomes the XEP-0084 PEP avatar, a PEP avatar becomes
# the vCard photo (with the XEP-0153 hash in presence), without loops; on both backends.

import base64
import hashlib
import re
import time

import harness
from harness import PASSWORD
from rawxmpp import NS_CLIENT, q, to_string

SRV = None
USERS = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina')
NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
NS_DISCO = 'http://jabber.org/protocol/disco#info'
NS_DATA = 'urn:xmpp:avatar:data'
NS_META = 'urn:xmpp:avatar:metadata'
NS_CONV = 'urn:xmpp:pep-vcard-conversion:0'
NS_CAPS = 'http://jabber.org/protocol/caps'
NS_EVENT = 'http://jabber.org/protocol/pubsub#event'
# a 3x2 PNG (IHDR and IEND only)
PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAAAAAC4HznGAAAAAElFTkSuQmCC'
PNG_SHA1 = '29c6657e54e1eb48325c9d3b52ee358c31c7591d'
# another image: the 8-byte PNG signature alone
SIG_B64 = 'iVBORw0KGgo='
SIG_SHA1 = '4caece539b039b16e16206ea2478f8c5ffb2ca05'
# publish-options making a node's access model open (XEP-0398 §9: only then is the PEP avatar
# copied to the public vCard)
OPEN = ("<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
        "type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
        "<field var='pubsub#access_model'><value>open</value></field></x></publish-options>")
def setUpModule():
    global SRV
    SRV = harness.module_server(
        'vcardpep', accounts={u: PASSWORD for u in USERS},
        modules={'disco': {}, 'roster': {}, 'caps': {}, 'pep': {}, 'vcard': {}})


def tearDownModule():
    harness.module_teardown(SRV)


def raw_iq(c, iid):
    m = re.search(r"<iq (?:[^>]*? )?id='%s'[^>]*?(?:/>|>.*?</iq>)" % re.escape(iid), c.received,
                  re.S)
    assert m, 'no iq %s in %r' % (iid, c.received[-2000:])
    return m.group(0)


class VCardPep(harness.TestCase):
    def exchange(self, c, itype, payload, to=None):
        """Sends an iq, waits for its answer, returns its exact serialized form (id 'ID')."""
        iid = c.next_id('iq')
        c.send("<iq type='%s' id='%s'%s>%s</iq>"
               % (itype, iid, " to='%s'" % to if to else '', payload))
        c.recv_match(lambda e: e.get('id') == iid)
        return raw_iq(c, iid).replace(iid, 'ID')

    def items(self, c, user, node):
        """The items of user's node, exactly as the server serialized them ('' when none)."""
        raw = self.exchange(c, 'get', "<pubsub xmlns='%s'><items node='%s'/></pubsub>"
                            % (NS_PUBSUB, node), to='%s@localhost' % user)
        m = re.search(r"<items node='[^']*'>(.*)</items>", raw, re.S)
        return m.group(1) if m else raw

    def wait_items(self, c, user, node, want, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            got = self.items(c, user, node)
            if got == want or time.monotonic() > deadline:
                self.assertEqual(got, want)
                return
            time.sleep(0.1)

    def wait_any(self, c, user, node, timeout=10):
        """The items of user's node once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.items(c, user, node)
            if re.search(r'<item[ />]', got) or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def vcard_row(self, user):
        return SRV.db_rows("SELECT vcard FROM vcards WHERE username = '%s'" % user)

    def wait_vcard_row(self, user, want, timeout=10):
        deadline = time.monotonic() + timeout
        while self.vcard_row(user) != want and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.vcard_row(user), want)

    def publish(self, c, node, item_id, payload, options=''):
        return self.exchange(c, 'set', "<pubsub xmlns='%s'><publish node='%s'><item id='%s'>%s"
                             "</item></publish>%s</pubsub>"
                             % (NS_PUBSUB, node, item_id, payload, options))

    def test_feature_advertised(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_DISCO, to='alice@localhost')
        feats = [f.get('var') for f in r.find(q(NS_DISCO, 'query')).findall(q(NS_DISCO, 'feature'))]
        self.assertIn(NS_CONV, feats)

    def test_vcard_photo_becomes_pep_avatar(self):
        a = self.login('alice')
        vcard = ("<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE>"
                 "<BINVAL>%s</BINVAL></PHOTO></vCard>" % PNG_B64)
        self.assertEqual(self.exchange(a, 'set', vcard), "<iq type='result' id='ID' to='%s'/>"
                         % a.jid)
        self.wait_items(a, 'alice', NS_META,
                        "<item id='%s'><metadata xmlns='%s'><info bytes='45' height='2' id='%s' "
                        "type='image/png' width='3'/></metadata></item>"
                        % (PNG_SHA1, NS_META, PNG_SHA1))
        self.assertEqual(self.items(a, 'alice', NS_DATA),
                         "<item id='%s'><data xmlns='%s'>%s</data></item>"
                         % (PNG_SHA1, NS_DATA, PNG_B64))
        self.assertEqual(hashlib.sha1(base64.b64decode(PNG_B64)).hexdigest(),
                         PNG_SHA1)
        # no loop: the vCard is the one the client stored, not rewritten from PEP
        time.sleep(0.5)
        self.assertEqual(self.vcard_row('alice'), [(vcard,)])
        self.assertNotIn('copying PEP avatar %s of alice@' % PNG_SHA1, SRV.log_text())

    def test_vcard_without_photo_disables_avatar(self):
        c = self.login('carol')
        self.exchange(c, 'set', "<vCard xmlns='vcard-temp'><FN>Carol</FN></vCard>")
        self.assertRegex(self.wait_any(c, 'carol', NS_META),
                         r"^<item id='[^']+'><metadata xmlns='%s'/></item>$" % NS_META)

    def test_pep_avatar_becomes_vcard_photo(self):
        b = self.login('bob')
        b2 = self.login('bob')
        self.exchange(b, 'set', "<vCard xmlns='vcard-temp'><FN>Bob</FN><NICKNAME>b</NICKNAME>"
                      "</vCard>")
        # let the (empty) metadata of that vCard set land first
        self.assertRegex(self.wait_any(b, 'bob', NS_META),
                         r"^<item id='[^']+'><metadata xmlns='%s'/></item>$" % NS_META)
        self.assertEqual(self.publish(b, NS_DATA, PNG_SHA1,
                                      "<data xmlns='%s'>%s</data>" % (NS_DATA, PNG_B64),
                                      OPEN)[:30],
                         "<iq type='result' id='ID' to='")
        self.publish(b, NS_META, PNG_SHA1,
                     "<metadata xmlns='%s'><info bytes='45' id='%s' type='image/png' width='3' "
                     "height='2'/><info bytes='9' id='abc' type='image/gif' url='https://x/y'/>"
                     "</metadata>" % (NS_META, PNG_SHA1))
        want = ("<vCard xmlns='vcard-temp'><FN>Bob</FN><NICKNAME>b</NICKNAME><PHOTO>"
                "<TYPE>image/png</TYPE><BINVAL>%s</BINVAL></PHOTO></vCard>" % PNG_B64)
        self.wait_vcard_row('bob', [(want,)])
        self.assertEqual(self.exchange(b, 'get', "<vCard xmlns='vcard-temp'/>"),
                         "<iq type='result' id='ID' to='%s'>%s</iq>" % (b.jid, want))
        # the XEP-0153 hash is in the presence the sessions broadcast from now on
        b.send('<presence/>')
        el = b2.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and e.get('from') == b.jid
                           and e.find('{vcard-temp:x:update}x') is not None)
        self.assertEqual(el.find('{vcard-temp:x:update}x/{vcard-temp:x:update}photo').text,
                         PNG_SHA1, to_string(el))
        # an empty <x/> of the client is filled in (XEP-0398 §4); its own <photo/> is kept
        for sent, want in (("<x xmlns='vcard-temp:x:update'/>",
                            "<x xmlns='vcard-temp:x:update'><photo>%s</photo></x>" % PNG_SHA1),
                           ("<x xmlns='vcard-temp:x:update'><photo/></x>",
                            "<x xmlns='vcard-temp:x:update'><photo/></x>")):
            b.send('<presence><status>%s</status>%s</presence>' % (len(sent), sent))
            b2.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and e.get('from') == b.jid
                          and e.findtext('{jabber:client}status') == str(len(sent)))
            m = re.findall(r"<presence from='%s'[^>]*><status>%d</status>(.*?)</presence>"
                           % (re.escape(b.jid), len(sent)), b2.received, re.S)
            self.assertEqual(m, [want])
        # no loop: the metadata node holds the client's item, not a republished one
        time.sleep(0.5)
        self.assertIn("<info bytes='45' id='%s' type='image/png' width='3' height='2'/>"
                      % PNG_SHA1, self.items(b, 'bob', NS_META))
        self.assertNotIn('publishing the vCard photo of bob@', SRV.log_text())

    def test_pep_metadata_without_matching_data(self):
        d = self.login('dave')
        vcard = "<vCard xmlns='vcard-temp'><FN>Dave</FN></vCard>"
        self.exchange(d, 'set', vcard)
        self.wait_any(d, 'dave', NS_META)
        # data whose bytes are not the image the metadata names
        self.publish(d, NS_DATA, PNG_SHA1, "<data xmlns='%s'>%s</data>" % (NS_DATA, SIG_B64))
        mark = SRV.log_size()
        self.publish(d, NS_META, PNG_SHA1, "<metadata xmlns='%s'><info bytes='45' id='%s' "
                     "type='image/png'/></metadata>" % (NS_META, PNG_SHA1))
        SRV.wait_log(r'no avatar data of dave@localhost matches metadata %s' % PNG_SHA1,
                     since=mark)
        # metadata naming data that was never published
        mark = SRV.log_size()
        self.publish(d, NS_META, SIG_SHA1, "<metadata xmlns='%s'><info bytes='8' id='%s' "
                     "type='image/png'/></metadata>" % (NS_META, SIG_SHA1))
        SRV.wait_log(r'no avatar data of dave@localhost matches metadata %s' % SIG_SHA1,
                     since=mark)
        # an image hosted elsewhere only
        self.publish(d, NS_META, 'u1', "<metadata xmlns='%s'><info bytes='8' id='%s' "
                     "type='image/png' url='https://example.org/a.png'/></metadata>"
                     % (NS_META, SIG_SHA1))
        time.sleep(0.5)
        self.assertEqual(self.vcard_row('dave'), [(vcard,)])

    def test_pep_avatar_without_vcard(self):
        e = self.login('erin')
        self.publish(e, NS_DATA, SIG_SHA1, "<data xmlns='%s'>%s</data>" % (NS_DATA, SIG_B64),
                     OPEN)
        self.publish(e, NS_META, SIG_SHA1, "<metadata xmlns='%s'><info bytes='8' id='%s' "
                     "type='image/png'/></metadata>" % (NS_META, SIG_SHA1))
        self.wait_vcard_row('erin', [("<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE>"
                                      "<BINVAL>%s</BINVAL></PHOTO></vCard>" % SIG_B64,)])

    def test_avatar_not_open_stays_out_of_vcard(self):
        g = self.login('gina')
        vcard = "<vCard xmlns='vcard-temp'><FN>Gina</FN></vCard>"
        self.exchange(g, 'set', vcard)
        self.wait_any(g, 'gina', NS_META)
        # access model presence (the default): contacts only, so not copied to the vCard
        self.publish(g, NS_DATA, SIG_SHA1, "<data xmlns='%s'>%s</data>" % (NS_DATA, SIG_B64))
        mark = SRV.log_size()
        self.publish(g, NS_META, SIG_SHA1, "<metadata xmlns='%s'><info bytes='8' id='%s' "
                     "type='image/png'/></metadata>" % (NS_META, SIG_SHA1))
        SRV.wait_log(r'the avatar data node of gina@localhost has access model presence, not '
                     r'open: not copied to the vCard', since=mark)
        time.sleep(0.3)
        self.assertEqual(self.vcard_row('gina'), [(vcard,)])
        # whitelist neither
        r = self.exchange(g, 'set', "<pubsub xmlns='%s#owner'><configure node='%s'><x "
                          "xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>"
                          "%s#node_config</value></field><field var='pubsub#access_model'>"
                          "<value>whitelist</value></field></x></configure></pubsub>"
                          % (NS_PUBSUB, NS_DATA, NS_PUBSUB))
        self.assertEqual(r, "<iq type='result' id='ID' to='%s'/>" % g.jid)
        mark = SRV.log_size()
        self.publish(g, NS_META, 'again', "<metadata xmlns='%s'><info bytes='8' id='%s' "
                     "type='image/png'/></metadata>" % (NS_META, SIG_SHA1))
        SRV.wait_log(r'has access model whitelist, not open', since=mark)
        self.assertEqual(self.vcard_row('gina'), [(vcard,)])
        # once the data node is open, the same avatar is copied
        r = self.exchange(g, 'set', "<pubsub xmlns='%s#owner'><configure node='%s'><x "
                          "xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>"
                          "%s#node_config</value></field><field var='pubsub#access_model'>"
                          "<value>open</value></field></x></configure></pubsub>"
                          % (NS_PUBSUB, NS_DATA, NS_PUBSUB))
        self.assertEqual(r, "<iq type='result' id='ID' to='%s'/>" % g.jid)
        self.publish(g, NS_META, SIG_SHA1, "<metadata xmlns='%s'><info bytes='8' id='%s' "
                     "type='image/png'/></metadata>" % (NS_META, SIG_SHA1))
        self.wait_vcard_row('gina', [("<vCard xmlns='vcard-temp'><FN>Gina</FN><PHOTO><TYPE>"
                                      "image/png</TYPE><BINVAL>%s</BINVAL></PHOTO></vCard>"
                                      % SIG_B64,)])

    def test_conversion_notifies_own_session(self):
        f = self.login('frank', presence=False)
        # caps asking for metadata notifications (XEP-0115 answered to the server's query)
        feats = sorted([NS_CAPS, NS_DISCO, NS_META + '+notify'])
        ver = base64.b64encode(hashlib.sha1(('client/pc//t<' + ''.join(
            x + '<' for x in feats)).encode()).digest()).decode()
        f.send("<presence><c xmlns='%s' hash='sha-1' node='urn:t' ver='%s'/></presence>"
               % (NS_CAPS, ver))
        iq = f.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('type') == 'get')
        f.send("<iq type='result' id='%s' to='localhost'><query xmlns='%s' node='urn:t#%s'>"
               "<identity category='client' type='pc' name='t'/>%s</query></iq>"
               % (iq.get('id'), NS_DISCO, ver,
                  ''.join("<feature var='%s'/>" % x for x in feats)))
        f.sync()
        self.exchange(f, 'set', "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE>"
                      "<BINVAL>%s</BINVAL></PHOTO></vCard>" % SIG_B64)
        # the metadata published on frank's behalf reaches his session
        f.recv_match(lambda e: e.tag == q(NS_CLIENT, 'message')
                     and e.find('{%s}event' % NS_EVENT) is not None)
        m = re.findall(r"<message [^>]*><event xmlns='%s'>.*?</message>" % NS_EVENT, f.received,
                       re.S)
        self.assertEqual(m[-1:], ["<message type='headline' to='%s' from='frank@localhost'>"
                                  "<event xmlns='%s'><items node='%s'><item id='%s'>"
                                  "<metadata xmlns='%s'><info bytes='8' id='%s' type='image/png'/>"
                                  "</metadata></item></items></event></message>"
                                  % (f.jid, NS_EVENT, NS_META, SIG_SHA1, NS_META, SIG_SHA1)])
