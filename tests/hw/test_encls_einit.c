// SPDX-License-Identifier: MIT
/*
 * ENCLS[EINIT] on a small enclave built with ECREATE/EADD/EEXTEND: each
 * return code and fault, the order of the checks where it shows, and that a
 * failed EINIT leaves the SECS as it was and unlocked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/hw_fixture.h"
#include "hw/hw_internal.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "tests/common/test_keys.h"
#include "tests/common/leak_guard.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

#define TCS_PAGE 1
#define CODE_PAGE 2
#define DATA_PAGE 3
#define SPARE_PAGE 4

static EVP_PKEY *key, *key2;

struct einit_test {
	struct sgx_hw *hw;
	void *secs_epc;
	struct sgx_secs *secs; /* the same page, typed */
	uint8_t *page;	       /* SIGSTRUCT at 0 and EINITTOKEN at 2048, as Linux lays them */
	struct sgx_sigstruct *sig;
	struct sgx_einittoken *token;
	struct sgx_sign_enclave desc;
	uint8_t mrenclave[SGX_HASH_SIZE]; /* expected, computed offline */
};

static int group_setup(void **state)
{
	(void)state;
	key = test_key();
	key2 = test_key2();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	return 0;
}

/*
 * Build the enclave: a TCS, a code page and a data page, the code page
 * measured with EEXTEND. Alongside, compute the MRENCLAVE a signing tool
 * would, from the same blocks.
 */
static void build_enclave(struct einit_test *t, uint64_t attributes)
{
	struct sgx_secinfo tcs_si = { .flags = SGX_SECINFO_TCS };
	struct sgx_secinfo code_si = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X };
	struct sgx_secinfo data_si = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W };
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));
	struct sgx_tcs *tcs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*tcs));
	uint8_t *code = fx_page_buf(0xC3), *data = fx_page_buf(0x00);
	struct sgx_measurement m;

	assert_non_null(src);
	assert_non_null(tcs);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		code[i] = (uint8_t)(i * 7);
	fx_secs_init(src, FX_BASE, FX_SIZE, attributes);
	assert_int_equal(fx_ecreate(t->hw, t->secs_epc, src), SGX_SUCCESS);
	fx_tcs_init(tcs);
	assert_int_equal(fx_eadd(t->hw, t->secs_epc, fx_epc_page(t->hw, TCS_PAGE), FX_BASE, tcs,
				 tcs_si.flags),
			 SGX_SUCCESS);
	assert_int_equal(fx_eadd(t->hw, t->secs_epc, fx_epc_page(t->hw, CODE_PAGE),
				 FX_BASE + SGX_PAGE_SIZE, code, code_si.flags),
			 SGX_SUCCESS);
	fx_eextend_page(t->hw, t->secs_epc, fx_epc_page(t->hw, CODE_PAGE));
	assert_int_equal(fx_eadd(t->hw, t->secs_epc, fx_epc_page(t->hw, DATA_PAGE),
				 FX_BASE + 2 * SGX_PAGE_SIZE, data, data_si.flags),
			 SGX_SUCCESS);

	sgx_measure_ecreate(&m, src->ssa_frame_size, src->size);
	sgx_measure_eadd(&m, 0, &tcs_si);
	sgx_measure_eadd(&m, SGX_PAGE_SIZE, &code_si);
	for (unsigned int off = 0; off < SGX_PAGE_SIZE; off += SGX_EEXTEND_CHUNK)
		sgx_measure_eextend(&m, SGX_PAGE_SIZE + off, code + off);
	sgx_measure_eadd(&m, 2 * SGX_PAGE_SIZE, &data_si);
	sgx_measure_final(&m, t->mrenclave);
	memcpy(t->desc.mrenclave, t->mrenclave, SGX_HASH_SIZE);

	free(code);
	free(data);
	free(tcs);
	free(src);
}

static int setup(void **state)
{
	struct einit_test *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->hw = fx_hw_new(1, 16);
	t->secs_epc = fx_epc_page(t->hw, 0);
	t->secs = t->secs_epc;
	t->page = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	assert_non_null(t->page);
	memset(t->page, 0, SGX_PAGE_SIZE);
	t->sig = (struct sgx_sigstruct *)t->page;
	t->token = (struct sgx_einittoken *)(t->page + SGX_PAGE_SIZE / 2);

	/* What the fixture's SECS has, with every bit enforced. */
	t->desc.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	t->desc.attributes_mask = ~0ULL;
	t->desc.xfrm = 0x3;
	t->desc.xfrm_mask = ~0ULL;
	t->desc.misc_mask = 0xFFFFFFFF;
	t->desc.isvprodid = 0x0102;
	t->desc.isvsvn = 0x0304;
	t->desc.date = 0x20240601;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct einit_test *t = *state;

	lg_hw_free(t->hw);
	free(t->page);
	free(t);
	return 0;
}

static void sign_with(struct einit_test *t, EVP_PKEY *k)
{
	assert_int_equal(sgx_sign_sigstruct(&t->desc, k, t->sig), 0);
}

/* Point IA32_SGXLEPUBKEYHASH0..3 at @k, as the kernel does on an FLC platform. */
static void set_lepubkeyhash(struct sgx_hw *hw, const EVP_PKEY *k)
{
	uint8_t h[SGX_HASH_SIZE];

	test_key_mrsigner(k, h);
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t v = 0, back;

		for (unsigned int j = 0; j < 8; j++)
			v |= (uint64_t)h[8 * i + j] << (8 * j);
		assert_int_equal(hw_wrmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, v), 0);
		assert_int_equal(hw_rdmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, &back), 0);
		assert_true(back == v);
	}
}

static int einit(struct einit_test *t)
{
	return encls_einit(t->hw, t->sig, t->token, t->secs_epc);
}

/* EINIT failed without a trace: still uninitialized, no identity, not locked. */
static void assert_secs_untouched(struct einit_test *t)
{
	static const uint8_t zero[SGX_HASH_SIZE];

	assert_false(t->secs->attributes & SGX_ATTR_INIT);
	assert_memory_equal(t->secs->mrenclave, zero, SGX_HASH_SIZE);
	assert_memory_equal(t->secs->mrsigner, zero, SGX_HASH_SIZE);
	assert_int_equal(t->secs->isv_prod_id, 0);
	assert_int_equal(t->secs->isv_svn, 0);
}

static void test_success(void **state)
{
	struct einit_test *t = *state;
	uint8_t mrsigner[SGX_HASH_SIZE];

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_SUCCESS);

	test_key_mrsigner(key, mrsigner);
	assert_true(t->secs->attributes & SGX_ATTR_INIT);
	assert_true(t->secs->attributes & SGX_ATTR_DEBUG);
	assert_memory_equal(t->secs->mrsigner, mrsigner, SGX_HASH_SIZE);
	assert_memory_equal(t->secs->mrenclave, t->mrenclave, SGX_HASH_SIZE);
	assert_int_equal(t->secs->isv_prod_id, 0x0102);
	assert_int_equal(t->secs->isv_svn, 0x0304);
}

static void test_invalid_measurement(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	t->desc.mrenclave[31] ^= 1;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_MEASUREMENT);
	assert_secs_untouched(t);

	/* The failure released the SECS and left the measurement running. */
	t->desc.mrenclave[31] ^= 1;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_SUCCESS);
}

/* A page added after signing changes the measurement. */
static void test_page_added_after_signing(void **state)
{
	struct einit_test *t = *state;
	uint8_t *buf = fx_page_buf(0x11);

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_int_equal(fx_eadd(t->hw, t->secs_epc, fx_epc_page(t->hw, SPARE_PAGE),
				 FX_BASE + 3 * SGX_PAGE_SIZE, buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(einit(t), SGX_INVALID_MEASUREMENT);
	assert_secs_untouched(t);
	free(buf);
}

static void test_invalid_signature(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	t->sig->signature[100] ^= 0x10;
	assert_int_equal(einit(t), SGX_INVALID_SIGNATURE);
	sign_with(t, key);
	t->sig->q2[5] ^= 0x10;
	assert_int_equal(einit(t), SGX_INVALID_SIGNATURE);
	sign_with(t, key);
	t->sig->body.isvsvn++;
	assert_int_equal(einit(t), SGX_INVALID_SIGNATURE);
	assert_secs_untouched(t);
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_SUCCESS);
}

static void test_invalid_sig_struct(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	t->sig->header.header1[4] = 0;
	assert_int_equal(einit(t), SGX_INVALID_SIG_STRUCT);
	sign_with(t, key);
	t->sig->exponent = 65537;
	assert_int_equal(einit(t), SGX_INVALID_SIG_STRUCT);
	sign_with(t, key);
	t->sig->reserved4[0] = 1;
	assert_int_equal(einit(t), SGX_INVALID_SIG_STRUCT);
	assert_secs_untouched(t);
}

static void test_invalid_attribute(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);

	/* The signer demands PROVISIONKEY, the SECS lacks it. */
	t->desc.attributes |= SGX_ATTR_PROVISIONKEY;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_ATTRIBUTE);
	/* The signer forbids DEBUG, the SECS has it. */
	t->desc.attributes = SGX_ATTR_MODE64BIT;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_ATTRIBUTE);
	t->desc.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	/* XFRM: AVX demanded, SECS has x87|SSE. */
	t->desc.xfrm = 0x7;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_ATTRIBUTE);
	t->desc.xfrm = 0x3;
	/* MISCSELECT: EXINFO demanded. */
	t->desc.miscselect = SGX_MISC_EXINFO;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_ATTRIBUTE);
	assert_secs_untouched(t);

	/* Outside the masks the same differences do not matter. */
	t->desc.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_PROVISIONKEY;
	t->desc.attributes_mask = ~(uint64_t)(SGX_ATTR_DEBUG | SGX_ATTR_PROVISIONKEY);
	t->desc.xfrm = 0x7;
	t->desc.xfrm_mask = 0x3;
	t->desc.miscselect = SGX_MISC_EXINFO;
	t->desc.misc_mask = 0;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_SUCCESS);
	/* The SECS keeps its own attributes, not the SIGSTRUCT's. */
	assert_true(t->secs->attributes == (SGX_ATTR_INIT | SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT));
	assert_true(t->secs->xfrm == 0x3);
}

/*
 * EINITTOKENKEY is a controlled attribute: only an enclave signed with the
 * key the MSRs name may have it, and the SDM checks this before the token,
 * so the code is INVALID_ATTRIBUTE, not INVALID_EINITTOKEN.
 */
static void test_controlled_attribute(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT | SGX_ATTR_EINITTOKENKEY);
	t->desc.attributes |= SGX_ATTR_EINITTOKENKEY;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_ATTRIBUTE);
	set_lepubkeyhash(t->hw, key2);
	assert_int_equal(einit(t), SGX_INVALID_ATTRIBUTE);
	assert_secs_untouched(t);
	set_lepubkeyhash(t->hw, key);
	assert_int_equal(einit(t), SGX_SUCCESS);
	assert_true(t->secs->attributes & SGX_ATTR_EINITTOKENKEY);
}

static void test_launch_control(void **state)
{
	struct einit_test *t = *state;
	uint8_t h[SGX_HASH_SIZE];
	uint64_t v = 0;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	sign_with(t, key);
	/* Power-on MSRs name Intel's launch enclave key. */
	assert_int_equal(einit(t), SGX_INVALID_EINITTOKEN);

	/* The MSRs name another signer. */
	set_lepubkeyhash(t->hw, key2);
	assert_int_equal(einit(t), SGX_INVALID_EINITTOKEN);

	/* Three of four quarters right is still wrong. */
	set_lepubkeyhash(t->hw, key);
	test_key_mrsigner(key, h);
	for (unsigned int j = 0; j < 8; j++)
		v |= (uint64_t)h[24 + j] << (8 * j);
	assert_int_equal(hw_wrmsr(t->hw, MSR_IA32_SGXLEPUBKEYHASH3, v ^ 1), 0);
	assert_int_equal(einit(t), SGX_INVALID_EINITTOKEN);
	/* Byte order matters: the same quarter big-endian is wrong too. */
	assert_int_equal(hw_wrmsr(t->hw, MSR_IA32_SGXLEPUBKEYHASH3, __builtin_bswap64(v)), 0);
	assert_int_equal(einit(t), SGX_INVALID_EINITTOKEN);

	/* No launch enclave mints tokens here, so a "valid" token never passes. */
	set_lepubkeyhash(t->hw, key);
	t->token->valid = 1;
	assert_int_equal(einit(t), SGX_INVALID_EINITTOKEN);
	assert_secs_untouched(t);
	/* Only bit 0 of VALID selects the token path. */
	t->token->valid = 2;
	assert_int_equal(einit(t), SGX_SUCCESS);
}

static void test_unmasked_event(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	hw_inject_einit_interrupts(t->hw, 2);
	assert_int_equal(einit(t), SGX_UNMASKED_EVENT);
	assert_secs_untouched(t);
	assert_int_equal(einit(t), SGX_UNMASKED_EVENT);
	assert_secs_untouched(t);
	assert_int_equal(einit(t), SGX_SUCCESS);
	assert_true(t->secs->attributes & SGX_ATTR_INIT);
}

/*
 * The SDM's order where it shows: a malformed SIGSTRUCT is reported before
 * the interrupt window opens (the pending interrupt stays pending), and the
 * SIGSTRUCT is judged before the SECS.
 */
static void test_check_order(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	t->sig->exponent = 5;
	hw_inject_einit_interrupts(t->hw, 1);
	assert_int_equal(einit(t), SGX_INVALID_SIG_STRUCT);
	t->sig->exponent = 3;
	assert_int_equal(einit(t), SGX_UNMASKED_EVENT);

	/* A bad signature wins over a page that is not a SECS. */
	t->sig->signature[0] ^= 1;
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, fx_epc_page(t->hw, CODE_PAGE)),
			 SGX_INVALID_SIGNATURE);
	t->sig->signature[0] ^= 1;
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, fx_epc_page(t->hw, CODE_PAGE)), PF);

	/* The measurement is checked before the attributes. */
	t->desc.mrenclave[0] ^= 1;
	t->desc.attributes |= SGX_ATTR_PROVISIONKEY;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_MEASUREMENT);
	/* And the attributes before launch control. */
	t->desc.mrenclave[0] ^= 1;
	set_lepubkeyhash(t->hw, key2);
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_ATTRIBUTE);
	assert_secs_untouched(t);
}

static void test_double_einit(void **state)
{
	struct einit_test *t = *state;
	struct sgx_secs before;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_SUCCESS);
	memcpy(&before, t->secs, sizeof(before));
	assert_int_equal(einit(t), GP);
	assert_memory_equal(&before, t->secs, sizeof(before));
}

static void test_misaligned(void **state)
{
	struct einit_test *t = *state;
	uint8_t *big = aligned_alloc(SGX_PAGE_SIZE, 2 * SGX_PAGE_SIZE);

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_non_null(big);
	memcpy(big + 64, t->sig, sizeof(*t->sig));
	assert_int_equal(encls_einit(t->hw, (void *)(big + 64), t->token, t->secs_epc), GP);
	memcpy(big + SGX_PAGE_SIZE + 256, t->token, sizeof(*t->token));
	assert_int_equal(encls_einit(t->hw, t->sig, (void *)(big + SGX_PAGE_SIZE + 256),
				     t->secs_epc),
			 GP);
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, (uint8_t *)t->secs_epc + 64), GP);
	assert_secs_untouched(t);
	free(big);
	assert_int_equal(einit(t), SGX_SUCCESS);
}

static void test_not_a_secs(void **state)
{
	struct einit_test *t = *state;
	void *plain = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_non_null(plain);
	memcpy(plain, t->secs, SGX_PAGE_SIZE);
	/* Ordinary memory, even holding a perfect copy of the SECS. */
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, plain), PF);
	/* An EPC page no leaf has used. */
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, fx_epc_page(t->hw, 10)), PF);
	/* A TCS and a regular page of the enclave. */
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, fx_epc_page(t->hw, TCS_PAGE)), PF);
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, fx_epc_page(t->hw, DATA_PAGE)), PF);
	free(plain);
	assert_secs_untouched(t);
	assert_int_equal(einit(t), SGX_SUCCESS);
}

static void test_removed_secs(void **state)
{
	struct einit_test *t = *state;
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));

	assert_non_null(src);
	fx_secs_init(src, FX_BASE, FX_SIZE, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(fx_ecreate(t->hw, t->secs_epc, src), SGX_SUCCESS);
	assert_int_equal(encls_eremove(t->hw, t->secs_epc), SGX_SUCCESS);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_int_equal(einit(t), PF);
	free(src);
}

static void test_null_operands(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_int_equal(encls_einit(t->hw, NULL, t->token, t->secs_epc), PF);
	assert_int_equal(encls_einit(t->hw, t->sig, NULL, t->secs_epc), PF);
	assert_int_equal(encls_einit(t->hw, t->sig, t->token, NULL), PF);
	assert_secs_untouched(t);
}

/* Another leaf holds the SECS: #GP, and EINIT does not disturb its lock. */
static void test_secs_busy(void **state)
{
	struct einit_test *t = *state;
	struct epc_ref ref;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_true(epc_resolve(t->hw, t->secs_epc, false, &ref));
	assert_non_null(ref.e);
	assert_true(epcm_trylock_excl(ref.e));
	assert_int_equal(einit(t), GP);
	assert_int_equal(atomic_load(&ref.e->lock), EPCM_LOCK_EXCL);
	epcm_unlock_excl(ref.e);

	assert_true(epcm_trylock_shared(ref.e));
	assert_int_equal(einit(t), GP);
	epcm_unlock_shared(ref.e);
	assert_secs_untouched(t);

	assert_int_equal(einit(t), SGX_SUCCESS);
	assert_int_equal(atomic_load(&ref.e->lock), 0);
}

static void test_build_leaves_after_einit(void **state)
{
	struct einit_test *t = *state;
	uint8_t *buf = fx_page_buf(0x22);

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_SUCCESS);
	assert_int_equal(fx_eadd(t->hw, t->secs_epc, fx_epc_page(t->hw, SPARE_PAGE),
				 FX_BASE + 3 * SGX_PAGE_SIZE, buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 GP);
	assert_int_equal(encls_eextend(t->hw, t->secs_epc, fx_epc_page(t->hw, DATA_PAGE)), GP);
	/* Neither touched the committed measurement. */
	assert_memory_equal(t->secs->mrenclave, t->mrenclave, SGX_HASH_SIZE);
	free(buf);
}

/* ISVFAMILYID is for KSS enclaves only. */
static void test_family_id_needs_kss(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	set_lepubkeyhash(t->hw, key);
	t->desc.isv_family_id[3] = 1;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_INVALID_SIG_STRUCT);
	assert_secs_untouched(t);
}

static void test_family_id_with_kss(void **state)
{
	struct einit_test *t = *state;

	build_enclave(t, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT | SGX_ATTR_KSS);
	set_lepubkeyhash(t->hw, key);
	t->desc.attributes |= SGX_ATTR_KSS;
	t->desc.isv_family_id[3] = 1;
	t->desc.isv_ext_prod_id[0] = 9;
	sign_with(t, key);
	assert_int_equal(einit(t), SGX_SUCCESS);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_success),
		T(test_invalid_measurement),
		T(test_page_added_after_signing),
		T(test_invalid_signature),
		T(test_invalid_sig_struct),
		T(test_invalid_attribute),
		T(test_controlled_attribute),
		T(test_launch_control),
		T(test_unmasked_event),
		T(test_check_order),
		T(test_double_einit),
		T(test_misaligned),
		T(test_not_a_secs),
		T(test_removed_secs),
		T(test_null_operands),
		T(test_secs_busy),
		T(test_build_leaves_after_einit),
		T(test_family_id_needs_kss),
		T(test_family_id_with_kss),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
