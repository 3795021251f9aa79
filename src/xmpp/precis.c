/* SPDX-License-Identifier: ISC */
/* PRECIS (RFC 8264/8265): derived properties, contextual rules, Bidi Rule and the two profiles. */
#include "xmpp/precis.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "lib/log.h"
#include "lib/mem.h"

enum precis_profile {
    PRECIS_USERNAME_CASEMAPPED,
    PRECIS_OPAQUE_STRING,
};

/* RFC 8264 §8 derived property values; ID_DIS_FREE_PVAL is "ID_DIS or FREE_PVAL". */
enum precis_prop {
    PRECIS_PVALID,
    PRECIS_CONTEXTJ,
    PRECIS_CONTEXTO,
    PRECIS_ID_DIS_FREE_PVAL,
    PRECIS_DISALLOWED,
};

/* The rules are applied once and then at most this many more times to reach a fixed point. */
#define PRECIS_MAX_REAPPLY 3

/* libunistring reports failure with NULL: out of memory is fatal like everywhere else, any
 * other errno (EILSEQ) is a rejected input. */
static bool uni_failed(const void *p)
{
    if (p != NULL)
        return false;
    if (errno == ENOMEM)
        st_fatal("precis: out of memory");
    return true;
}

/* RFC 5892 §2.6 Exceptions (F): returns true and sets *prop when cp is listed. */
static bool precis_exception(ucs4_t cp, enum precis_prop *prop)
{
    switch (cp) {
    case 0x00DF:
    case 0x03C2:
    case 0x06FD:
    case 0x06FE:
    case 0x0F0B:
    case 0x3007:
        *prop = PRECIS_PVALID;
        return true;
    case 0x00B7:
    case 0x0375:
    case 0x05F3:
    case 0x05F4:
    case 0x30FB:
        *prop = PRECIS_CONTEXTO;
        return true;
    case 0x0640:
    case 0x07FA:
    case 0x302E:
    case 0x302F:
    case 0x303B:
        *prop = PRECIS_DISALLOWED;
        return true;
    default:
        break;
    }
    if ((cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x06F0 && cp <= 0x06F9)) {
        *prop = PRECIS_CONTEXTO;
        return true;
    }
    if (cp >= 0x3031 && cp <= 0x3035) {
        *prop = PRECIS_DISALLOWED;
        return true;
    }
    return false;
}

/* Hangul_Syllable_Type L, V or T (conjoining jamo); these ranges are fixed since Unicode 5.2. */
static bool precis_old_hangul_jamo(ucs4_t cp)
{
    return (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xA960 && cp <= 0xA97C) ||
           (cp >= 0xD7B0 && cp <= 0xD7C6) || (cp >= 0xD7CB && cp <= 0xD7FB);
}

/* RFC 8264 §9.17: toNFKC(cp) != cp. A code point without any decomposition is its own NFKC. */
static bool precis_has_compat(ucs4_t cp)
{
    int tag;
    ucs4_t decomp[UC_DECOMPOSITION_MAX_LENGTH];
    if (uc_decomposition(cp, &tag, decomp) < 0)
        return false;
    uint32_t buf[UC_DECOMPOSITION_MAX_LENGTH * 2];
    size_t n = sizeof(buf) / sizeof(buf[0]);
    uint32_t *r = u32_normalize(UNINORM_NFKC, &cp, 1, buf, &n);
    if (uni_failed(r))
        return true; /* cannot happen for one valid code point; be strict if it does */
    bool compat = !(n == 1 && r[0] == cp);
    if (r != buf)
        free(r);
    return compat;
}

/* RFC 8264 §8: the derived property of one code point, rule by rule in the RFC's order. */
static enum precis_prop precis_derived_property(ucs4_t cp)
{
    enum precis_prop prop;
    if (precis_exception(cp, &prop))
        return prop;
    /* BackwardCompatible is empty. Unassigned: Cn that is not a noncharacter; noncharacters
     * are disallowed a few steps later, so all of Cn is rejected either way. */
    if (uc_is_general_category_withtable(cp, UC_CATEGORY_MASK_Cn))
        return PRECIS_DISALLOWED;
    if (cp >= 0x21 && cp <= 0x7E)
        return PRECIS_PVALID;
    if (uc_is_property_join_control(cp))
        return PRECIS_CONTEXTJ;
    if (precis_old_hangul_jamo(cp))
        return PRECIS_DISALLOWED;
    if (uc_is_property_default_ignorable_code_point(cp) || uc_is_property_not_a_character(cp))
        return PRECIS_DISALLOWED;
    if (uc_is_general_category_withtable(cp, UC_CATEGORY_MASK_Cc))
        return PRECIS_DISALLOWED;
    if (precis_has_compat(cp))
        return PRECIS_ID_DIS_FREE_PVAL;
    if (uc_is_general_category_withtable(cp, UC_CATEGORY_MASK_Ll | UC_CATEGORY_MASK_Lu |
                                                 UC_CATEGORY_MASK_Lo | UC_CATEGORY_MASK_Nd |
                                                 UC_CATEGORY_MASK_Lm | UC_CATEGORY_MASK_Mn |
                                                 UC_CATEGORY_MASK_Mc))
        return PRECIS_PVALID;
    if (uc_is_general_category_withtable(
            cp, UC_CATEGORY_MASK_Lt | UC_CATEGORY_MASK_Nl | UC_CATEGORY_MASK_No |
                    UC_CATEGORY_MASK_Me | UC_CATEGORY_MASK_Zs | UC_CATEGORY_MASK_Sm |
                    UC_CATEGORY_MASK_Sc | UC_CATEGORY_MASK_Sk | UC_CATEGORY_MASK_So |
                    UC_CATEGORY_MASK_Pc | UC_CATEGORY_MASK_Pd | UC_CATEGORY_MASK_Ps |
                    UC_CATEGORY_MASK_Pe | UC_CATEGORY_MASK_Pi | UC_CATEGORY_MASK_Pf |
                    UC_CATEGORY_MASK_Po))
        return PRECIS_ID_DIS_FREE_PVAL;
    return PRECIS_DISALLOWED;
}

static bool precis_script_is(ucs4_t cp, const char *name)
{
    const uc_script_t *script = uc_script(cp);
    return script != NULL && strcmp(script->name, name) == 0;
}

/* RFC 5892 Appendix A.1: ZERO WIDTH NON-JOINER after a Virama, or inside
 * (Joining_Type:{L,D})(Joining_Type:T)* ZWNJ (Joining_Type:T)*(Joining_Type:{R,D}). */
static bool precis_zwnj_ok(const uint32_t *s, size_t n, size_t i)
{
    if (i > 0 && uc_combining_class(s[i - 1]) == UC_CCC_VR)
        return true;
    size_t j = i;
    int jt = UC_JOINING_TYPE_U;
    while (j > 0) {
        jt = uc_joining_type(s[--j]);
        if (jt != UC_JOINING_TYPE_T)
            break;
    }
    if (jt != UC_JOINING_TYPE_L && jt != UC_JOINING_TYPE_D)
        return false;
    jt = UC_JOINING_TYPE_U;
    for (j = i + 1; j < n; j++) {
        jt = uc_joining_type(s[j]);
        if (jt != UC_JOINING_TYPE_T)
            break;
    }
    return jt == UC_JOINING_TYPE_R || jt == UC_JOINING_TYPE_D;
}

/* RFC 5892 Appendix A: the contextual rule of s[i] (a CONTEXTJ or CONTEXTO code point). */
static bool precis_context_ok(const uint32_t *s, size_t n, size_t i)
{
    ucs4_t cp = s[i];
    switch (cp) {
    case 0x200C:
        return precis_zwnj_ok(s, n, i);
    case 0x200D:
        return i > 0 && uc_combining_class(s[i - 1]) == UC_CCC_VR;
    case 0x00B7:
        return i > 0 && s[i - 1] == 0x6C && i + 1 < n && s[i + 1] == 0x6C;
    case 0x0375:
        return i + 1 < n && precis_script_is(s[i + 1], "Greek");
    case 0x05F3:
    case 0x05F4:
        return i > 0 && precis_script_is(s[i - 1], "Hebrew");
    case 0x30FB:
        for (size_t j = 0; j < n; j++) {
            if (precis_script_is(s[j], "Hiragana") || precis_script_is(s[j], "Katakana") ||
                precis_script_is(s[j], "Han"))
                return true;
        }
        return false;
    default:
        break;
    }
    if (cp >= 0x0660 && cp <= 0x0669) {
        for (size_t j = 0; j < n; j++)
            if (s[j] >= 0x06F0 && s[j] <= 0x06F9)
                return false;
        return true;
    }
    if (cp >= 0x06F0 && cp <= 0x06F9) {
        for (size_t j = 0; j < n; j++)
            if (s[j] >= 0x0660 && s[j] <= 0x0669)
                return false;
        return true;
    }
    return false; /* a contextual code point without a rule is disallowed */
}

/* The IdentifierClass (identifier true) or FreeformClass check of a whole string. */
static bool precis_class_ok(const uint32_t *s, size_t n, bool identifier)
{
    for (size_t i = 0; i < n; i++) {
        switch (precis_derived_property(s[i])) {
        case PRECIS_PVALID:
            break;
        case PRECIS_CONTEXTJ:
        case PRECIS_CONTEXTO:
            if (!precis_context_ok(s, n, i))
                return false;
            break;
        case PRECIS_ID_DIS_FREE_PVAL:
            if (identifier)
                return false;
            break;
        case PRECIS_DISALLOWED:
            return false;
        }
    }
    return true;
}

/* RFC 5893 §2, applied only to strings holding a right-to-left code point (RFC 8265 §3.3.1). */
static bool precis_bidi_ok(const uint32_t *s, size_t n)
{
    bool rtl_present = false, en = false, an = false;
    for (size_t i = 0; i < n; i++) {
        int bc = uc_bidi_class(s[i]);
        if (bc == UC_BIDI_R || bc == UC_BIDI_AL || bc == UC_BIDI_AN)
            rtl_present = true;
    }
    if (!rtl_present || n == 0)
        return true;
    int first = uc_bidi_class(s[0]);
    if (first != UC_BIDI_L && first != UC_BIDI_R && first != UC_BIDI_AL)
        return false; /* condition 1 */
    bool rtl = first != UC_BIDI_L;
    int last = -1;
    for (size_t i = 0; i < n; i++) {
        int bc = uc_bidi_class(s[i]);
        if (rtl) {
            /* condition 2 */
            if (bc != UC_BIDI_R && bc != UC_BIDI_AL && bc != UC_BIDI_AN && bc != UC_BIDI_EN &&
                bc != UC_BIDI_ES && bc != UC_BIDI_CS && bc != UC_BIDI_ET && bc != UC_BIDI_ON &&
                bc != UC_BIDI_BN && bc != UC_BIDI_NSM)
                return false;
            en = en || bc == UC_BIDI_EN;
            an = an || bc == UC_BIDI_AN;
        } else {
            /* condition 5 */
            if (bc != UC_BIDI_L && bc != UC_BIDI_EN && bc != UC_BIDI_ES && bc != UC_BIDI_CS &&
                bc != UC_BIDI_ET && bc != UC_BIDI_ON && bc != UC_BIDI_BN && bc != UC_BIDI_NSM)
                return false;
        }
        if (bc != UC_BIDI_NSM)
            last = bc;
    }
    if (rtl) {
        /* conditions 3 and 4 */
        if (last != UC_BIDI_R && last != UC_BIDI_AL && last != UC_BIDI_EN && last != UC_BIDI_AN)
            return false;
        return !(en && an);
    }
    return last == UC_BIDI_L || last == UC_BIDI_EN; /* condition 6 */
}

/* One application of a profile's rules (RFC 8264 §7 order: width, additional mapping, case,
 * normalization, directionality) and its class check. On success returns a malloc'd string in
 * *out_r (length *n_r); on rejection returns -1. */
static int precis_apply(enum precis_profile profile, const uint32_t *in, size_t n, uint32_t **out_r,
                        size_t *n_r)
{
    uint32_t *mapped = st_malloc((n ? n : 1) * sizeof(uint32_t));
    memcpy(mapped, in, n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        if (profile == PRECIS_USERNAME_CASEMAPPED) {
            /* Width mapping: <wide> and <narrow> decompositions are always one code point. */
            int tag;
            ucs4_t decomp[UC_DECOMPOSITION_MAX_LENGTH];
            if (mapped[i] >= 0x80 && uc_decomposition(mapped[i], &tag, decomp) == 1 &&
                (tag == UC_DECOMP_WIDE || tag == UC_DECOMP_NARROW))
                mapped[i] = decomp[0];
        } else if (mapped[i] >= 0x80 &&
                   uc_is_general_category_withtable(mapped[i], UC_CATEGORY_MASK_Zs)) {
            mapped[i] = 0x20; /* additional mapping rule: non-ASCII space to SPACE */
        }
    }
    uint32_t *cased = mapped;
    size_t cased_n = n;
    if (profile == PRECIS_USERNAME_CASEMAPPED) {
        cased = u32_tolower(mapped, n, NULL, NULL, NULL, &cased_n);
        free(mapped);
        if (uni_failed(cased))
            return -1;
    }
    size_t norm_n = 0;
    uint32_t *norm = u32_normalize(UNINORM_NFC, cased, cased_n, NULL, &norm_n);
    free(cased);
    if (uni_failed(norm))
        return -1;
    bool identifier = profile == PRECIS_USERNAME_CASEMAPPED;
    if (norm_n == 0 || !precis_class_ok(norm, norm_n, identifier) ||
        (identifier && !precis_bidi_ok(norm, norm_n))) {
        free(norm);
        return -1;
    }
    *out_r = norm;
    *n_r = norm_n;
    return 0;
}

static int precis_enforce(enum precis_profile profile, const char *in, size_t len, char **out_r)
{
    *out_r = NULL;
    if (in == NULL || len == 0 || u8_check((const uint8_t *)in, len) != NULL)
        return -1;
    size_t n = 0;
    uint32_t *cur = u8_to_u32((const uint8_t *)in, len, NULL, &n);
    if (uni_failed(cur))
        return -1;
    uint32_t *next;
    size_t next_n;
    if (precis_apply(profile, cur, n, &next, &next_n) < 0) {
        free(cur);
        return -1;
    }
    /* RFC 8264 §7: re-apply until the output no longer changes, at most three more times. */
    bool stable = false;
    for (int round = 0; round <= PRECIS_MAX_REAPPLY; round++) {
        free(cur);
        cur = next;
        n = next_n;
        if (round == PRECIS_MAX_REAPPLY)
            break;
        if (precis_apply(profile, cur, n, &next, &next_n) < 0) {
            free(cur);
            return -1;
        }
        if (next_n == n && memcmp(next, cur, n * sizeof(uint32_t)) == 0) {
            free(next);
            stable = true;
            break;
        }
    }
    if (!stable) {
        free(cur);
        return -1;
    }
    size_t out_len = 0;
    uint8_t *u8 = u32_to_u8(cur, n, NULL, &out_len);
    free(cur);
    if (uni_failed(u8))
        return -1;
    char *out = st_malloc(out_len + 1);
    memcpy(out, u8, out_len);
    out[out_len] = '\0';
    free(u8);
    *out_r = out;
    return 0;
}

int st_precis_username_casemapped(const char *in, size_t len, char **out_r)
{
    return precis_enforce(PRECIS_USERNAME_CASEMAPPED, in, len, out_r);
}

int st_precis_opaque_string(const char *in, size_t len, char **out_r)
{
    return precis_enforce(PRECIS_OPAQUE_STRING, in, len, out_r);
}

int st_precis_resourcepart(const char *in, size_t len, char **out_r)
{
    return precis_enforce(PRECIS_OPAQUE_STRING, in, len, out_r);
}
