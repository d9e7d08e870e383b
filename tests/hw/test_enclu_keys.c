// SPDX-License-Identifier: MIT
/*
 * EREPORT and EGETKEY: a REPORT verified by its target enclave through
 * EGETKEY(REPORT) and AES-CMAC computed here with OpenSSL, the dependencies
 * of every key (identity, policy, SVNs, KEYID, the platform's root key),
 * every SGX return code and every fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "tests/common/test_cmac.h"
#include "tests/common/enclu_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/test_keys.h"
#include "tests/common/leak_guard.h"

#define GP		  ENCLS_FAULT(X86_TRAP_GP)
#define PF		  ENCLS_FAULT(X86_TRAP_PF)
#define SGX_PF_ERR(write) (X86_PF_SGX | X86_PF_USER | X86_PF_PROT | ((write) ? X86_PF_WRITE : 0))

#define SECTION_PAGES 64
#define ENCLAVE(n)    ((n)*EF_EPC_PAGES)

/* Operands in the data page of a fixture enclave. */
#define OFF_REQ	   0	/* TARGETINFO or KEYREQUEST */
#define OFF_RD	   512	/* REPORTDATA */
#define OFF_REPORT 1024 /* REPORT */
#define OFF_KEY	   2048 /* EGETKEY output */
#define INSIDE_RIP (FX_BASE + EF_OENTRY + 0x100)

struct t {
	struct sgx_hw *hw;
	struct ef_enclave a; /* the default enclave */
	struct sgx_lp lp;
	struct sgx_cpu_regs regs;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct ef_params p;

	assert_non_null(t);
	t->hw = fx_hw_new(1, SECTION_PAGES);
	ef_params_default(&p);
	ef_build(&t->a, t->hw, ENCLAVE(0), &p);
	sgx_lp_init(&t->lp);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	lg_hw_free(t->hw);
	free(t);
	return 0;
}

static uint8_t *data_of(struct ef_enclave *e)
{
	return e->page[EF_DATA];
}

/* Inside @e: registers for ENCLU[@leaf] with RBX/RCX/RDX at data-page offsets. */
static void inside_regs(struct sgx_cpu_regs *r, uint64_t leaf, uint64_t rbx, uint64_t rcx,
			uint64_t rdx)
{
	r->rax = leaf;
	r->rbx = rbx;
	r->rcx = rcx;
	r->rdx = rdx;
	r->rip = INSIDE_RIP;
}

/* EREPORT inside @e (entered by the caller) with the operands at their offsets. */
static int ereport_in(struct t *t, struct ef_enclave *e, const struct sgx_targetinfo *ti,
		      const uint8_t rd[64], struct sgx_report *out)
{
	int ret;

	memcpy(data_of(e) + OFF_REQ, ti, sizeof(*ti));
	memcpy(data_of(e) + OFF_RD, rd, 64);
	inside_regs(&t->regs, SGX_EREPORT, ef_la(EF_DATA) + OFF_REQ, ef_la(EF_DATA) + OFF_RD,
		    ef_la(EF_DATA) + OFF_REPORT);
	ret = enclu_ereport(t->hw, &t->lp, &e->mmu, &t->regs);
	if (ret == SGX_SUCCESS) {
		assert_int_equal(t->regs.rip, INSIDE_RIP + SGX_ENCLU_LEN);
		memcpy(out, data_of(e) + OFF_REPORT, sizeof(*out));
	}
	return ret;
}

/* Enter @e, EREPORT, leave. */
static void report_of(struct t *t, struct ef_enclave *e, const struct sgx_targetinfo *ti,
		      const uint8_t rd[64], struct sgx_report *out)
{
	ef_enter(e, &t->lp, &t->regs);
	assert_int_equal(ereport_in(t, e, ti, rd, out), SGX_SUCCESS);
	ef_exit(e, &t->lp, &t->regs);
}

/* EGETKEY inside @e (entered by the caller); the key lands in @key on success. */
static int egetkey_in(struct t *t, struct ef_enclave *e, const struct sgx_keyrequest *req,
		      uint8_t key[16])
{
	int ret;

	memcpy(data_of(e) + OFF_REQ, req, sizeof(*req));
	inside_regs(&t->regs, SGX_EGETKEY, ef_la(EF_DATA) + OFF_REQ, ef_la(EF_DATA) + OFF_KEY, 0);
	ret = enclu_egetkey(t->hw, &t->lp, &e->mmu, &t->regs);
	if (!encls_faulted(ret)) {
		assert_int_equal(t->regs.rax, ret);
		assert_int_equal(t->regs.rip, INSIDE_RIP + SGX_ENCLU_LEN);
		if (ret == SGX_SUCCESS && key)
			memcpy(key, data_of(e) + OFF_KEY, 16);
	}
	return ret;
}

/* Enter @e, EGETKEY, leave; returns the leaf's result. */
static int key_of(struct t *t, struct ef_enclave *e, const struct sgx_keyrequest *req,
		  uint8_t key[16])
{
	int ret;

	ef_enter(e, &t->lp, &t->regs);
	ret = egetkey_in(t, e, req, key);
	ef_exit(e, &t->lp, &t->regs);
	return ret;
}

static void keyrequest(struct sgx_keyrequest *req, uint16_t name, uint16_t policy)
{
	memset(req, 0, sizeof(*req));
	req->keyname = name;
	req->keypolicy = policy;
}

static void seal_key(struct t *t, struct ef_enclave *e, uint16_t policy, uint8_t key[16])
{
	struct sgx_keyrequest req;

	keyrequest(&req, SGX_KEYNAME_SEAL, policy);
	assert_int_equal(key_of(t, e, &req, key), SGX_SUCCESS);
}

static void build(struct t *t, struct ef_enclave *e, unsigned int slot,
		  void (*tweak)(struct ef_params *p))
{
	struct ef_params p;

	ef_params_default(&p);
	if (tweak)
		tweak(&p);
	ef_build(e, t->hw, ENCLAVE(slot), &p);
}

static void other_code(struct ef_params *p)
{
	p->code_byte = 0xB0;
}

static void other_signer(struct ef_params *p)
{
	p->other_signer = true;
}

static void provisioning(struct ef_params *p)
{
	p->attributes |= SGX_ATTR_PROVISIONKEY;
}

static void launching(struct ef_params *p)
{
	p->attributes |= SGX_ATTR_EINITTOKENKEY;
}

static void kss(struct ef_params *p)
{
	p->attributes |= SGX_ATTR_KSS;
	p->config_svn = 3;
	memset(p->config_id, 0x11, sizeof(p->config_id));
}

static void kss_other_prodid(struct ef_params *p)
{
	kss(p);
	p->isvprodid = 7;
}

static void kss_other_config(struct ef_params *p)
{
	kss(p);
	memset(p->config_id, 0x22, sizeof(p->config_id));
}

/* The TARGETINFO of @e, the way enclaves get it: from its own REPORT. */
static void targetinfo_of(struct t *t, struct ef_enclave *e, struct sgx_targetinfo *ti)
{
	struct sgx_targetinfo zero;
	struct sgx_report self;
	uint8_t rd[64] = {0};

	memset(&zero, 0, sizeof(zero));
	report_of(t, e, &zero, rd, &self);
	memset(ti, 0, sizeof(*ti));
	memcpy(ti->mrenclave, self.body.mrenclave, sizeof(ti->mrenclave));
	ti->attributes = self.body.attributes;
	ti->xfrm = self.body.xfrm;
	ti->miscselect = self.body.miscselect;
	ti->config_svn = self.body.config_svn;
	memcpy(ti->config_id, self.body.config_id, sizeof(ti->config_id));
}

/* ---- EREPORT ---- */

static void test_report_verified_by_target(void **state)
{
	struct t *t = *state;
	const struct sgx_secs *secs_a = t->a.secs;
	uint8_t rd[64], key[16], mac[16], cpusvn[SGX_CPUSVN_SIZE], mrsigner[SGX_HASH_SIZE];
	struct sgx_keyrequest req;
	struct sgx_targetinfo ti_b;
	struct sgx_report rep;
	struct ef_enclave b;
	EVP_PKEY *signer = test_key();

	build(t, &b, 1, other_code);
	targetinfo_of(t, &b, &ti_b);
	assert_memory_equal(ti_b.mrenclave, ((struct sgx_secs *)b.secs)->mrenclave, 32);

	for (unsigned int i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i + 1);
	report_of(t, &t->a, &ti_b, rd, &rep);

	/* The body describes A. */
	hw_get_cpusvn(t->hw, cpusvn);
	test_key_mrsigner(signer, mrsigner);
	EVP_PKEY_free(signer);
	assert_memory_equal(rep.body.cpusvn, cpusvn, sizeof(cpusvn));
	assert_int_equal(rep.body.miscselect, secs_a->miscselect);
	assert_int_equal(rep.body.attributes, SGX_ATTR_INIT | SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(rep.body.xfrm, 0x3);
	assert_memory_equal(rep.body.mrenclave, secs_a->mrenclave, 32);
	assert_memory_equal(rep.body.mrsigner, mrsigner, 32);
	assert_int_equal(rep.body.isv_prod_id, 1);
	assert_int_equal(rep.body.isv_svn, 2);
	assert_int_equal(rep.body.config_svn, 0);
	assert_memory_equal(rep.body.report_data, rd, sizeof(rd));
	assert_memory_equal(rep.keyid, t->hw->report_keyid, sizeof(rep.keyid));

	/* B verifies it with its REPORT key for the report's KEYID. */
	keyrequest(&req, SGX_KEYNAME_REPORT, 0);
	memcpy(req.keyid, rep.keyid, sizeof(req.keyid));
	assert_int_equal(key_of(t, &b, &req, key), SGX_SUCCESS);
	test_cmac(key, &rep.body, sizeof(rep.body), mac);
	assert_memory_equal(mac, rep.mac, sizeof(mac));

	/* A tampered body does not verify. */
	rep.body.isv_svn++;
	test_cmac(key, &rep.body, sizeof(rep.body), mac);
	assert_memory_not_equal(mac, rep.mac, sizeof(mac));
	rep.body.isv_svn--;

	/* A's own REPORT key is not the one. */
	assert_int_equal(key_of(t, &t->a, &req, key), SGX_SUCCESS);
	test_cmac(key, &rep.body, sizeof(rep.body), mac);
	assert_memory_not_equal(mac, rep.mac, sizeof(mac));

	/* Nor is B's key for another KEYID. */
	req.keyid[0] ^= 1;
	assert_int_equal(key_of(t, &b, &req, key), SGX_SUCCESS);
	test_cmac(key, &rep.body, sizeof(rep.body), mac);
	assert_memory_not_equal(mac, rep.mac, sizeof(mac));
}

/* A report to oneself verifies with one's own REPORT key. */
static void test_report_to_self(void **state)
{
	struct t *t = *state;
	struct sgx_targetinfo ti;
	struct sgx_keyrequest req;
	struct sgx_report rep;
	uint8_t rd[64] = {7}, key[16], mac[16];

	targetinfo_of(t, &t->a, &ti);
	ef_enter(&t->a, &t->lp, &t->regs);
	assert_int_equal(ereport_in(t, &t->a, &ti, rd, &rep), SGX_SUCCESS);
	keyrequest(&req, SGX_KEYNAME_REPORT, 0);
	memcpy(req.keyid, rep.keyid, sizeof(req.keyid));
	assert_int_equal(egetkey_in(t, &t->a, &req, key), SGX_SUCCESS);
	ef_exit(&t->a, &t->lp, &t->regs);
	test_cmac(key, &rep.body, sizeof(rep.body), mac);
	assert_memory_equal(mac, rep.mac, sizeof(mac));
}

static void test_report_mac_changes(void **state)
{
	struct t *t = *state;
	struct sgx_targetinfo ti;
	struct sgx_report r1, r2, r3, r4;
	uint8_t rd1[64] = {1}, rd2[64] = {2};

	targetinfo_of(t, &t->a, &ti);
	report_of(t, &t->a, &ti, rd1, &r1);
	report_of(t, &t->a, &ti, rd1, &r2);
	report_of(t, &t->a, &ti, rd2, &r3);
	/* Deterministic for the same inputs. */
	assert_memory_equal(&r1, &r2, sizeof(r1));
	/* REPORTDATA is in the MACed body. */
	assert_memory_not_equal(r1.mac, r3.mac, sizeof(r1.mac));
	assert_memory_equal(&r1.body, &r3.body, offsetof(struct sgx_report_body, report_data));
	/* Another target, another key, another MAC over the same body. */
	ti.mrenclave[0] ^= 1;
	report_of(t, &t->a, &ti, rd1, &r4);
	assert_memory_equal(&r1.body, &r4.body, sizeof(r1.body));
	assert_memory_not_equal(r1.mac, r4.mac, sizeof(r1.mac));
	ti.mrenclave[0] ^= 1;
	ti.attributes |= SGX_ATTR_PROVISIONKEY;
	report_of(t, &t->a, &ti, rd1, &r4);
	assert_memory_not_equal(r1.mac, r4.mac, sizeof(r1.mac));
}

/* KSS enclaves report CONFIGID and CONFIGSVN, and targets are told apart by them. */
static void test_report_kss(void **state)
{
	struct t *t = *state;
	struct sgx_targetinfo ti;
	struct sgx_report rep;
	struct ef_enclave k;
	uint8_t rd[64] = {0}, id[64];

	build(t, &k, 1, kss);
	targetinfo_of(t, &k, &ti);
	memset(id, 0x11, sizeof(id));
	assert_int_equal(ti.config_svn, 3);
	assert_memory_equal(ti.config_id, id, sizeof(id));
	report_of(t, &k, &ti, rd, &rep);
	assert_int_equal(rep.body.attributes & SGX_ATTR_KSS, SGX_ATTR_KSS);
}

static void test_ereport_faults(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	uint64_t d = ef_la(EF_DATA);
	uint8_t *before = malloc(SGX_PAGE_SIZE);
	int ret;

	assert_non_null(before);
	ef_enter(&t->a, &t->lp, r);
	memcpy(before, data_of(&t->a), SGX_PAGE_SIZE);
#define EXPECT(expected, rbx, rcx, rdx)                                                            \
	do {                                                                                       \
		inside_regs(r, SGX_EREPORT, (rbx), (rcx), (rdx));                                  \
		ret = enclu_ereport(t->hw, &t->lp, &t->a.mmu, r);                                  \
		assert_int_equal(ret, (expected));                                                 \
		assert_int_equal(r->rip, INSIDE_RIP);                                              \
		assert_memory_equal(before, data_of(&t->a), SGX_PAGE_SIZE);                        \
	} while (0)

	/* Alignment: TARGETINFO 512, REPORTDATA 128, REPORT 512. */
	EXPECT(GP, d + 64, d + OFF_RD, d + OFF_REPORT);
	EXPECT(GP, d, d + OFF_RD + 64, d + OFF_REPORT);
	EXPECT(GP, d, d + OFF_RD, d + OFF_REPORT + 256);
	/* Outside ELRANGE. */
	EXPECT(GP, FX_BASE - 512, d + OFF_RD, d + OFF_REPORT);
	EXPECT(GP, d, FX_BASE + FX_SIZE, d + OFF_REPORT);
	EXPECT(GP, d, d + OFF_RD, 0x401000);
	/* Not mapped: the page tables' #PF. */
	EXPECT(PF, ef_la(EF_UNMAPPED), d + OFF_RD, d + OFF_REPORT);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_UNMAPPED));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);
	/* The output on a read-only enclave page: EPCM.W = 0. */
	EXPECT(PF, d, d + OFF_RD, ef_la(EF_RODATA) + 512);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_RODATA) + 512);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(true));
	/* TARGETINFO on the TCS: not a REG page. */
	EXPECT(PF, ef_la(EF_TCS), d + OFF_RD, d + OFF_REPORT);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	/* Read-only inputs are fine; a PT_REG page of this enclave is all it takes. */
	inside_regs(r, SGX_EREPORT, ef_la(EF_RODATA), ef_la(EF_RODATA) + 512, d + OFF_REPORT);
	assert_int_equal(enclu_ereport(t->hw, &t->lp, &t->a.mmu, r), SGX_SUCCESS);
#undef EXPECT
	ef_exit(&t->a, &t->lp, r);
	free(before);
}

/* Operands of another enclave mapped into this one's range are refused. */
static void test_ereport_other_enclave_page(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct ef_enclave b;

	build(t, &b, 1, NULL);
	t->a.mmu_state.map[EF_DATA] = b.page[EF_DATA];
	ef_enter(&t->a, &t->lp, r);
	inside_regs(r, SGX_EREPORT, ef_la(EF_RODATA), ef_la(EF_RODATA) + 512,
		    ef_la(EF_DATA) + OFF_REPORT);
	assert_int_equal(enclu_ereport(t->hw, &t->lp, &t->a.mmu, r), PF);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_DATA) + OFF_REPORT);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(true));
}

/* ---- EGETKEY: what keys depend on ---- */

static void test_seal_key_identity(void **state)
{
	struct t *t = *state;
	uint8_t a1[16], a2[16], twin[16], b[16], a_signer[16], b_signer[16], c_signer[16];
	struct ef_enclave a_twin, eb, ec;

	build(t, &a_twin, 1, NULL);
	build(t, &eb, 2, other_code);
	build(t, &ec, 3, other_signer);

	/* Same request, same identity: same key, also from a second instance. */
	seal_key(t, &t->a, SGX_KEYPOLICY_MRENCLAVE, a1);
	seal_key(t, &t->a, SGX_KEYPOLICY_MRENCLAVE, a2);
	seal_key(t, &a_twin, SGX_KEYPOLICY_MRENCLAVE, twin);
	assert_memory_equal(a1, a2, 16);
	assert_memory_equal(a1, twin, 16);
	/* MRENCLAVE policy: another MRENCLAVE, another key. */
	seal_key(t, &eb, SGX_KEYPOLICY_MRENCLAVE, b);
	assert_memory_not_equal(a1, b, 16);
	/* MRSIGNER policy: same signer and product, same key; another signer, another. */
	seal_key(t, &t->a, SGX_KEYPOLICY_MRSIGNER, a_signer);
	seal_key(t, &eb, SGX_KEYPOLICY_MRSIGNER, b_signer);
	seal_key(t, &ec, SGX_KEYPOLICY_MRSIGNER, c_signer);
	assert_memory_equal(a_signer, b_signer, 16);
	assert_memory_not_equal(a_signer, c_signer, 16);
	assert_memory_not_equal(a_signer, a1, 16);
}

/* Every field of the request the SEAL key depends on. */
static void test_seal_key_request_fields(void **state)
{
	struct t *t = *state;
	uint8_t base[16], k[16];
	struct sgx_keyrequest req;

	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRSIGNER);
	req.isvsvn = 2;
	hw_get_cpusvn(t->hw, req.cpusvn);
	assert_int_equal(key_of(t, &t->a, &req, base), SGX_SUCCESS);

	req.isvsvn = 1; /* an older SVN: allowed, and a different key */
	assert_int_equal(key_of(t, &t->a, &req, k), SGX_SUCCESS);
	assert_memory_not_equal(base, k, 16);
	req.isvsvn = 2;

	req.cpusvn[0]--; /* an older CPUSVN */
	assert_int_equal(key_of(t, &t->a, &req, k), SGX_SUCCESS);
	assert_memory_not_equal(base, k, 16);
	req.cpusvn[0]++;

	req.keyid[31] = 1;
	assert_int_equal(key_of(t, &t->a, &req, k), SGX_SUCCESS);
	assert_memory_not_equal(base, k, 16);
	req.keyid[31] = 0;

	req.attribute_mask = SGX_ATTR_MODE64BIT;
	assert_int_equal(key_of(t, &t->a, &req, k), SGX_SUCCESS);
	assert_memory_not_equal(base, k, 16);
	req.attribute_mask = 0;
	req.misc_mask = 1;
	assert_int_equal(key_of(t, &t->a, &req, k), SGX_SUCCESS);
	assert_memory_not_equal(base, k, 16);
	req.misc_mask = 0;

	assert_int_equal(key_of(t, &t->a, &req, k), SGX_SUCCESS);
	assert_memory_equal(base, k, 16);
}

/* The root key makes the hierarchy: saved and restored, sealing survives a restart. */
static void test_root_key_restart(void **state)
{
	struct t *t = *state;
	uint8_t root[SGX_ROOT_KEY_SIZE], root2[SGX_ROOT_KEY_SIZE];
	uint8_t before[16], fresh[16], after[16];
	struct sgx_hw *hw2;
	struct t t2;
	struct ef_params p;

	seal_key(t, &t->a, SGX_KEYPOLICY_MRENCLAVE, before);
	hw_get_root_key(t->hw, root);

	/* Another boot: a fresh platform draws another root key. */
	hw2 = fx_hw_new(1, SECTION_PAGES);
	memset(&t2, 0, sizeof(t2));
	t2.hw = hw2;
	sgx_lp_init(&t2.lp);
	ef_params_default(&p);
	ef_build(&t2.a, hw2, 0, &p);
	hw_get_root_key(hw2, root2);
	assert_memory_not_equal(root, root2, sizeof(root));
	seal_key(&t2, &t2.a, SGX_KEYPOLICY_MRENCLAVE, fresh);
	assert_memory_not_equal(before, fresh, 16);

	/* With the saved root key restored, the same key again. */
	hw_set_root_key(hw2, root);
	hw_get_root_key(hw2, root2);
	assert_memory_equal(root, root2, sizeof(root));
	seal_key(&t2, &t2.a, SGX_KEYPOLICY_MRENCLAVE, after);
	assert_memory_equal(before, after, 16);
	lg_hw_free(hw2);
}

/* Key names give unrelated keys for the same enclave. */
static void test_key_names_differ(void **state)
{
	struct t *t = *state;
	struct sgx_keyrequest req;
	uint8_t seal[16], report[16], prov[16], prov_seal[16], token[16];
	struct ef_enclave p, l;

	build(t, &p, 1, provisioning);
	build(t, &l, 2, launching);
	keyrequest(&req, SGX_KEYNAME_SEAL, 0);
	assert_int_equal(key_of(t, &p, &req, seal), SGX_SUCCESS);
	req.keyname = SGX_KEYNAME_REPORT;
	assert_int_equal(key_of(t, &p, &req, report), SGX_SUCCESS);
	req.keyname = SGX_KEYNAME_PROVISION;
	assert_int_equal(key_of(t, &p, &req, prov), SGX_SUCCESS);
	req.keyname = SGX_KEYNAME_PROVISION_SEAL;
	assert_int_equal(key_of(t, &p, &req, prov_seal), SGX_SUCCESS);
	req.keyname = SGX_KEYNAME_EINITTOKEN;
	assert_int_equal(key_of(t, &l, &req, token), SGX_SUCCESS);
	assert_memory_not_equal(seal, report, 16);
	assert_memory_not_equal(seal, prov, 16);
	assert_memory_not_equal(prov, prov_seal, 16);
	assert_memory_not_equal(prov, report, 16);
	assert_memory_not_equal(token, seal, 16);

	/* PROVISION ignores KEYID and the MRENCLAVE/MRSIGNER policy... */
	req.keyname = SGX_KEYNAME_PROVISION;
	req.keyid[0] = 9;
	req.keypolicy = SGX_KEYPOLICY_MRENCLAVE;
	assert_int_equal(key_of(t, &p, &req, seal), SGX_SUCCESS);
	assert_memory_equal(seal, prov, 16);
	/* ...but not the SVN checks. */
	req.isvsvn = 3;
	assert_int_equal(key_of(t, &p, &req, seal), SGX_INVALID_ISVSVN);
}

/* Key separation and sharing: NOISVPRODID and CONFIGID. */
static void test_kss_policies(void **state)
{
	struct t *t = *state;
	struct ef_enclave k1, k2, k3;
	struct sgx_keyrequest req;
	uint8_t a[16], b[16];

	build(t, &k1, 1, kss);
	build(t, &k2, 2, kss_other_prodid);
	build(t, &k3, 3, kss_other_config);

	/* ISVPRODID enters the key unless NOISVPRODID. */
	seal_key(t, &k1, SGX_KEYPOLICY_MRSIGNER, a);
	seal_key(t, &k2, SGX_KEYPOLICY_MRSIGNER, b);
	assert_memory_not_equal(a, b, 16);
	seal_key(t, &k1, SGX_KEYPOLICY_MRSIGNER | SGX_KEYPOLICY_NOISVPRODID, a);
	seal_key(t, &k2, SGX_KEYPOLICY_MRSIGNER | SGX_KEYPOLICY_NOISVPRODID, b);
	assert_memory_equal(a, b, 16);

	/* CONFIGID enters only with the CONFIGID policy. */
	seal_key(t, &k1, SGX_KEYPOLICY_MRENCLAVE, a);
	seal_key(t, &k3, SGX_KEYPOLICY_MRENCLAVE, b);
	assert_memory_equal(a, b, 16);
	seal_key(t, &k1, SGX_KEYPOLICY_MRENCLAVE | SGX_KEYPOLICY_CONFIGID, a);
	seal_key(t, &k3, SGX_KEYPOLICY_MRENCLAVE | SGX_KEYPOLICY_CONFIGID, b);
	assert_memory_not_equal(a, b, 16);

	/* CONFIGSVN: up to the enclave's, each its own key. */
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE | SGX_KEYPOLICY_CONFIGID);
	req.config_svn = 3;
	assert_int_equal(key_of(t, &k1, &req, b), SGX_SUCCESS);
	assert_memory_not_equal(a, b, 16);
	req.config_svn = 4;
	assert_int_equal(key_of(t, &k1, &req, b), SGX_INVALID_ISVSVN);
}

/* ---- EGETKEY: return codes ---- */

static void test_egetkey_errors(void **state)
{
	static const struct {
		uint16_t keyname;
		int expected;
	} names[] = {
		{SGX_KEYNAME_PROVISION, SGX_INVALID_ATTRIBUTE},
		{SGX_KEYNAME_PROVISION_SEAL, SGX_INVALID_ATTRIBUTE},
		{SGX_KEYNAME_EINITTOKEN, SGX_INVALID_ATTRIBUTE},
		{5, SGX_INVALID_KEYNAME},
		{0xFFFF, SGX_INVALID_KEYNAME},
	};
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct sgx_keyrequest req;
	uint8_t fill[16], platform[SGX_CPUSVN_SIZE];

	memset(fill, 0xEE, sizeof(fill));
	ef_enter(&t->a, &t->lp, r);
	memcpy(data_of(&t->a) + OFF_KEY, fill, sizeof(fill));

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		keyrequest(&req, names[i].keyname, 0);
		r->rflags = 0x202 | X86_EFLAGS_CF | X86_EFLAGS_SF;
		assert_int_equal(egetkey_in(t, &t->a, &req, NULL), names[i].expected);
		assert_int_equal(r->rflags, 0x202 | X86_EFLAGS_ZF);
		assert_memory_equal(data_of(&t->a) + OFF_KEY, fill, sizeof(fill));
	}

	/* ISVSVN above the enclave's (2). */
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE);
	req.isvsvn = 3;
	assert_int_equal(egetkey_in(t, &t->a, &req, NULL), SGX_INVALID_ISVSVN);
	assert_int_equal(r->rax, SGX_INVALID_ISVSVN);
	/* A CPUSVN beyond the platform's, alone and with a bad ISVSVN (CPUSVN first). */
	hw_get_cpusvn(t->hw, platform);
	for (unsigned int i = 0; i < SGX_CPUSVN_SIZE; i++) {
		keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE);
		memcpy(req.cpusvn, platform, sizeof(platform));
		if (platform[i] == 0xFF)
			continue;
		req.cpusvn[i]++;
		assert_int_equal(egetkey_in(t, &t->a, &req, NULL), SGX_INVALID_CPUSVN);
		req.isvsvn = 3;
		assert_int_equal(egetkey_in(t, &t->a, &req, NULL), SGX_INVALID_CPUSVN);
	}
	assert_memory_equal(data_of(&t->a) + OFF_KEY, fill, sizeof(fill));

	/* Success clears ZF and the other arithmetic flags. */
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE);
	memcpy(req.cpusvn, platform, sizeof(platform));
	req.isvsvn = 2;
	r->rflags = 0x202 | X86_EFLAGS_ZF | X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF |
		    X86_EFLAGS_OF | X86_EFLAGS_SF;
	assert_int_equal(egetkey_in(t, &t->a, &req, fill), SGX_SUCCESS);
	assert_int_equal(r->rax, 0);
	assert_int_equal(r->rflags, 0x202);
	ef_exit(&t->a, &t->lp, r);
}

/* The format checks (#GP) and the operand faults of EGETKEY. */
static void test_egetkey_faults(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct sgx_keyrequest req;
	uint64_t d = ef_la(EF_DATA);
	uint8_t *before = malloc(SGX_PAGE_SIZE);

	assert_non_null(before);
	ef_enter(&t->a, &t->lp, r);
#define EXPECT_REQ(expected)                                                                       \
	do {                                                                                       \
		memcpy(data_of(&t->a) + OFF_REQ, &req, sizeof(req));                               \
		memcpy(before, data_of(&t->a), SGX_PAGE_SIZE);                                     \
		inside_regs(r, SGX_EGETKEY, d + OFF_REQ, d + OFF_KEY, 0);                          \
		assert_int_equal(enclu_egetkey(t->hw, &t->lp, &t->a.mmu, r), (expected));          \
		assert_int_equal(r->rip, INSIDE_RIP);                                              \
		assert_int_equal(r->rax, SGX_EGETKEY);                                             \
		assert_memory_equal(before, data_of(&t->a), SGX_PAGE_SIZE);                        \
	} while (0)
#define EXPECT_OPS(expected, rbx, rcx)                                                             \
	do {                                                                                       \
		memcpy(before, data_of(&t->a), SGX_PAGE_SIZE);                                     \
		inside_regs(r, SGX_EGETKEY, (rbx), (rcx), 0);                                      \
		assert_int_equal(enclu_egetkey(t->hw, &t->lp, &t->a.mmu, r), (expected));          \
		assert_int_equal(r->rip, INSIDE_RIP);                                              \
		assert_memory_equal(before, data_of(&t->a), SGX_PAGE_SIZE);                        \
	} while (0)

	keyrequest(&req, SGX_KEYNAME_SEAL, 0);
	req.reserved1[1] = 1;
	EXPECT_REQ(GP);
	keyrequest(&req, SGX_KEYNAME_SEAL, 0);
	req.reserved2[433] = 1;
	EXPECT_REQ(GP);
	/* Reserved KEYPOLICY bits. */
	keyrequest(&req, SGX_KEYNAME_SEAL, 0x40);
	EXPECT_REQ(GP);
	keyrequest(&req, SGX_KEYNAME_SEAL, 0x8000);
	EXPECT_REQ(GP);
	/* The KSS policy bits and CONFIGSVN without ATTRIBUTES.KSS. */
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_NOISVPRODID);
	EXPECT_REQ(GP);
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_CONFIGID);
	EXPECT_REQ(GP);
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_ISVFAMILYID);
	EXPECT_REQ(GP);
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_ISVEXTPRODID);
	EXPECT_REQ(GP);
	keyrequest(&req, SGX_KEYNAME_SEAL, 0);
	req.config_svn = 1;
	EXPECT_REQ(GP);
	/* The format checks come before the key name. */
	keyrequest(&req, 9, 0x40);
	EXPECT_REQ(GP);

	keyrequest(&req, SGX_KEYNAME_SEAL, 0);
	memcpy(data_of(&t->a) + OFF_REQ, &req, sizeof(req));
	/* Alignment: KEYREQUEST 512, the key 16. */
	EXPECT_OPS(GP, d + OFF_REQ + 128, d + OFF_KEY);
	EXPECT_OPS(GP, d + OFF_REQ, d + OFF_KEY + 8);
	/* Outside ELRANGE. */
	EXPECT_OPS(GP, FX_BASE - 512, d + OFF_KEY);
	EXPECT_OPS(GP, d + OFF_REQ, FX_BASE + FX_SIZE);
	EXPECT_OPS(GP, d + OFF_REQ, FX_BASE - 16);
	/* Not mapped. */
	EXPECT_OPS(PF, ef_la(EF_UNMAPPED), d + OFF_KEY);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_UNMAPPED));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);
	EXPECT_OPS(PF, d + OFF_REQ, ef_la(EF_UNMAPPED) + 16);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_UNMAPPED) + 16);
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER | X86_PF_WRITE);
	/* The key into a read-only page: EPCM.W = 0. */
	EXPECT_OPS(PF, d + OFF_REQ, ef_la(EF_RODATA) + 32);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_RODATA) + 32);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(true));
	/* The request in the TCS, or in the SECS's stead: not a REG page of the enclave. */
	EXPECT_OPS(PF, ef_la(EF_TCS), d + OFF_KEY);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	/* A request in the page tables but mapped read-only for the key write. */
	t->a.mmu_state.prot[EF_DATA] = HW_MMU_READ;
	EXPECT_OPS(PF, d + OFF_REQ, d + OFF_KEY);
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER | X86_PF_WRITE | X86_PF_PROT);
	t->a.mmu_state.prot[EF_DATA] = HW_MMU_READ | HW_MMU_WRITE;
	/* A request on a read-only page is fine. */
	memcpy(t->a.page[EF_RODATA], &req, sizeof(req));
	inside_regs(r, SGX_EGETKEY, ef_la(EF_RODATA), d + OFF_KEY, 0);
	assert_int_equal(enclu_egetkey(t->hw, &t->lp, &t->a.mmu, r), SGX_SUCCESS);
#undef EXPECT_REQ
#undef EXPECT_OPS
	ef_exit(&t->a, &t->lp, r);
	free(before);
}

/* A KSS enclave accepts the KSS bits; reserved bits stay #GP. */
static void test_egetkey_kss_format(void **state)
{
	struct t *t = *state;
	struct sgx_keyrequest req;
	struct ef_enclave k;

	build(t, &k, 1, kss);
	keyrequest(&req, SGX_KEYNAME_SEAL,
		   SGX_KEYPOLICY_NOISVPRODID | SGX_KEYPOLICY_CONFIGID | SGX_KEYPOLICY_ISVFAMILYID |
			   SGX_KEYPOLICY_ISVEXTPRODID);
	req.config_svn = 1;
	assert_int_equal(key_of(t, &k, &req, NULL), SGX_SUCCESS);
	req.keypolicy |= 0x40;
	ef_enter(&k, &t->lp, &t->regs);
	assert_int_equal(egetkey_in(t, &k, &req, NULL), GP);
	ef_exit(&k, &t->lp, &t->regs);
}

/* Through the ENCLU dispatcher. */
static void test_enclu_dispatch_keys(void **state)
{
	struct t *t = *state;
	struct sgx_keyrequest req;
	uint8_t k1[16], k2[16];

	seal_key(t, &t->a, SGX_KEYPOLICY_MRENCLAVE, k1);
	keyrequest(&req, SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE);
	memcpy(data_of(&t->a) + OFF_REQ, &req, sizeof(req));
	ef_enter(&t->a, &t->lp, &t->regs);
	inside_regs(&t->regs, SGX_EGETKEY, ef_la(EF_DATA) + OFF_REQ, ef_la(EF_DATA) + OFF_KEY, 0);
	assert_int_equal(enclu(t->hw, &t->lp, &t->a.mmu, &t->regs), SGX_SUCCESS);
	memcpy(k2, data_of(&t->a) + OFF_KEY, 16);
	assert_memory_equal(k1, k2, 16);
	inside_regs(&t->regs, SGX_EREPORT, ef_la(EF_RODATA), ef_la(EF_RODATA) + 512,
		    ef_la(EF_DATA) + OFF_REPORT);
	assert_int_equal(enclu(t->hw, &t->lp, &t->a.mmu, &t->regs), SGX_SUCCESS);
	ef_exit(&t->a, &t->lp, &t->regs);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_report_verified_by_target),
		T(test_report_to_self),
		T(test_report_mac_changes),
		T(test_report_kss),
		T(test_ereport_faults),
		T(test_ereport_other_enclave_page),
		T(test_seal_key_identity),
		T(test_seal_key_request_fields),
		T(test_root_key_restart),
		T(test_key_names_differ),
		T(test_kss_policies),
		T(test_egetkey_errors),
		T(test_egetkey_faults),
		T(test_egetkey_kss_format),
		T(test_enclu_dispatch_keys),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
