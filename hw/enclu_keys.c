// SPDX-License-Identifier: MIT
/*
 * The key hierarchy of the CPU model: ENCLU[EREPORT] and ENCLU[EGETKEY]
 * (SDM Vol. 3D, their leaf descriptions and the "Key Derivation" table).
 *
 * Every key is AES-CMAC, keyed with the platform's 16-byte root key (the
 * model's fuse key, see hw_set_root_key()), over a struct key_dependencies
 * that holds what the SDM's TMP_KEYDEPENDENCIES holds for that key name: the
 * name, the identities the policy selects, SVNs, the masked attributes and
 * MISCSELECT, the KEYID and the CPUSVN. The same request from the same
 * enclave identity on the same platform gives the same key, across runs when
 * the root key is restored; anything the key depends on changes it.
 *
 * What the model leaves out: the owner epoch and the seal fuses (both are
 * constants of one platform, so the root key stands for them), the PKCS
 * padding constant, and ISVFAMILYID/ISVEXTPRODID, which this SECS layout
 * does not record at EINIT (they enter as zero).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "hw/enclu_internal.h"

#define KEY_SIZE	 16
#define REPORTDATA_SIZE	 64
#define TARGETINFO_ALIGN 512
#define REPORTDATA_ALIGN 128
#define KEYREQUEST_ALIGN 512
#define KEY_ALIGN	 16

#define KEYPOLICY_ALL 0x3Fu
/* Policy bits of key separation and sharing: #GP unless ATTRIBUTES.KSS. */
#define KEYPOLICY_KSS                                                                              \
	(SGX_KEYPOLICY_NOISVPRODID | SGX_KEYPOLICY_CONFIGID | SGX_KEYPOLICY_ISVFAMILYID |          \
	 SGX_KEYPOLICY_ISVEXTPRODID)
/* INIT and DEBUG enter every key, whatever ATTRIBUTEMASK says. */
#define REQUIRED_SEALING_MASK (SGX_ATTR_INIT | SGX_ATTR_DEBUG)

/* The fixed CPUSVN of the model's processor: one SVN per byte. */
static const uint8_t platform_cpusvn[SGX_CPUSVN_SIZE] = {
	0x10, 0x10, 0x02, 0x04, 0x01, 0x80, 0x06, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* The derivation data; fields a key name does not use stay zero. */
struct key_dependencies {
	uint16_t keyname;
	uint16_t keypolicy;
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t config_svn;
	uint8_t reserved[6];
	uint64_t attributes;
	uint64_t xfrm;
	uint64_t attributes_mask;
	uint64_t xfrm_mask;
	uint32_t miscselect;
	uint32_t misc_mask;
	uint8_t cpusvn[SGX_CPUSVN_SIZE];
	uint8_t mrenclave[SGX_HASH_SIZE];
	uint8_t mrsigner[SGX_HASH_SIZE];
	uint8_t keyid[32];
	uint8_t config_id[64];
	uint8_t isv_family_id[16];
	uint8_t isv_ext_prod_id[16];
} __attribute__((packed));

void hw_set_root_key(struct sgx_hw *hw, const uint8_t key[SGX_ROOT_KEY_SIZE])
{
	memcpy(hw->root_key, key, SGX_ROOT_KEY_SIZE);
}

void hw_get_root_key(const struct sgx_hw *hw, uint8_t key[SGX_ROOT_KEY_SIZE])
{
	memcpy(key, hw->root_key, SGX_ROOT_KEY_SIZE);
}

void hw_get_cpusvn(const struct sgx_hw *hw, uint8_t cpusvn[SGX_CPUSVN_SIZE])
{
	(void)hw;
	memcpy(cpusvn, platform_cpusvn, SGX_CPUSVN_SIZE);
}

/* AES-CMAC with AES-128 through OpenSSL's EVP_MAC. 0 or -1. */
static int aes_cmac(const uint8_t key[KEY_SIZE], const void *data, size_t len,
		    uint8_t out[KEY_SIZE])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0;
	EVP_MAC *mac;
	int ret = -1;

	mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	if (!mac)
		return -1;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx)
		goto out;
	if (EVP_MAC_init(ctx, key, KEY_SIZE, params) != 1 || EVP_MAC_update(ctx, data, len) != 1 ||
	    EVP_MAC_final(ctx, out, &outlen, KEY_SIZE) != 1 || outlen != KEY_SIZE)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

static int derive_key(const struct sgx_hw *hw, const struct key_dependencies *deps,
		      uint8_t out[KEY_SIZE])
{
	return aes_cmac(hw->root_key, deps, sizeof(*deps), out);
}

/* "DS:RBX.CPUSVN is beyond current CPU configuration": any component newer. */
static bool cpusvn_beyond(const uint8_t cpusvn[SGX_CPUSVN_SIZE])
{
	for (unsigned int i = 0; i < SGX_CPUSVN_SIZE; i++)
		if (cpusvn[i] > platform_cpusvn[i])
			return true;
	return false;
}

/* The REPORT key of the enclave @ti describes, for KEYID @keyid. */
static void report_key_deps(const struct sgx_targetinfo *ti, const uint8_t keyid[32],
			    struct key_dependencies *deps)
{
	memset(deps, 0, sizeof(*deps));
	deps->keyname = SGX_KEYNAME_REPORT;
	deps->attributes = ti->attributes;
	deps->xfrm = ti->xfrm;
	deps->miscselect = ti->miscselect;
	deps->config_svn = ti->config_svn;
	memcpy(deps->mrenclave, ti->mrenclave, SGX_HASH_SIZE);
	memcpy(deps->config_id, ti->config_id, sizeof(deps->config_id));
	memcpy(deps->keyid, keyid, sizeof(deps->keyid));
	memcpy(deps->cpusvn, platform_cpusvn, SGX_CPUSVN_SIZE);
}

/* The TARGETINFO that names the enclave of @secs. */
static void targetinfo_of(const struct sgx_secs *secs, struct sgx_targetinfo *ti)
{
	memset(ti, 0, sizeof(*ti));
	memcpy(ti->mrenclave, secs->mrenclave, SGX_HASH_SIZE);
	ti->attributes = secs->attributes;
	ti->xfrm = secs->xfrm;
	ti->miscselect = secs->miscselect;
	ti->config_svn = secs->config_svn;
	memcpy(ti->config_id, secs->config_id, sizeof(ti->config_id));
}

int enclu_ereport(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs)
{
	uint64_t ti_la = regs->rbx, rd_la = regs->rcx, out_la = regs->rdx;
	uint8_t *ti_p, *rd_p, *out_p, key[KEY_SIZE];
	struct key_dependencies deps;
	struct sgx_targetinfo ti;
	struct sgx_report report;
	const struct sgx_secs *secs;
	int ret;

	/* ENCLU: EREPORT outside enclave mode is #GP(0). */
	if (!lp->inside)
		return enclu_gp(lp);
	ret = enclu_operand_gp(lp, ti_la, sizeof(struct sgx_targetinfo), TARGETINFO_ALIGN);
	if (!ret)
		ret = enclu_operand_gp(lp, rd_la, REPORTDATA_SIZE, REPORTDATA_ALIGN);
	if (!ret)
		ret = enclu_operand_gp(lp, out_la, sizeof(struct sgx_report), SGX_REPORT_ALIGN);
	if (!ret)
		ret = enclu_operand_page(hw, lp, mmu, ti_la, HW_MMU_READ, &ti_p);
	if (!ret)
		ret = enclu_operand_page(hw, lp, mmu, rd_la, HW_MMU_READ, &rd_p);
	if (!ret)
		ret = enclu_operand_page(hw, lp, mmu, out_la, HW_MMU_READ | HW_MMU_WRITE, &out_p);
	if (ret)
		return ret;
	secs = enclu_current_secs(hw, lp);
	if (!secs)
		return enclu_gp(lp);

	/* Work on copies: the operands may overlap each other, or change. */
	memcpy(&ti, ti_p, sizeof(ti));
	memset(&report, 0, sizeof(report));
	memcpy(report.body.report_data, rd_p, REPORTDATA_SIZE);

	memcpy(report.body.cpusvn, platform_cpusvn, SGX_CPUSVN_SIZE);
	report.body.miscselect = secs->miscselect;
	report.body.attributes = secs->attributes;
	report.body.xfrm = secs->xfrm;
	memcpy(report.body.mrenclave, secs->mrenclave, SGX_HASH_SIZE);
	memcpy(report.body.mrsigner, secs->mrsigner, SGX_HASH_SIZE);
	memcpy(report.body.config_id, secs->config_id, sizeof(report.body.config_id));
	report.body.isv_prod_id = secs->isv_prod_id;
	report.body.isv_svn = secs->isv_svn;
	report.body.config_svn = secs->config_svn;
	memcpy(report.keyid, hw->report_keyid, sizeof(report.keyid));

	report_key_deps(&ti, report.keyid, &deps);
	if (derive_key(hw, &deps, key) ||
	    aes_cmac(key, &report.body, sizeof(report.body), report.mac)) {
		/* Only when the host runs out of memory: fault, never a wrong MAC. */
		OPENSSL_cleanse(key, sizeof(key));
		return enclu_gp(lp);
	}
	OPENSSL_cleanse(key, sizeof(key));
	memcpy(out_p, &report, sizeof(report));
	regs->rip += SGX_ENCLU_LEN;
	return SGX_SUCCESS;
}

/* The KEYREQUEST format checks: #GP. */
static bool keyrequest_valid(const struct sgx_keyrequest *req, const struct sgx_secs *secs)
{
	if (!all_zero(req->reserved1, sizeof(req->reserved1)) ||
	    !all_zero(req->reserved2, sizeof(req->reserved2)))
		return false;
	if (req->keypolicy & ~KEYPOLICY_ALL)
		return false;
	if (!(secs->attributes & SGX_ATTR_KSS) &&
	    ((req->keypolicy & KEYPOLICY_KSS) || req->config_svn))
		return false;
	return true;
}

/* The SVN checks of the keys that take SVNs from the request. */
static int svn_checks(const struct sgx_keyrequest *req, const struct sgx_secs *secs)
{
	if (cpusvn_beyond(req->cpusvn))
		return SGX_INVALID_CPUSVN;
	if (req->isvsvn > secs->isv_svn)
		return SGX_INVALID_ISVSVN;
	return SGX_SUCCESS;
}

/*
 * The derivation data of the key @req names for the enclave of @secs, or the
 * SGX return code that refuses it (the CASE (DS:RBX.KEYNAME) of the SDM).
 */
static int egetkey_deps(const struct sgx_keyrequest *req, const struct sgx_secs *secs,
			struct key_dependencies *deps)
{
	uint64_t attributes = (req->attribute_mask | REQUIRED_SEALING_MASK) & secs->attributes;
	uint64_t xfrm = req->xfrm_mask & secs->xfrm;
	uint32_t miscselect = req->misc_mask & secs->miscselect;
	struct sgx_targetinfo self;
	int ret;

	memset(deps, 0, sizeof(*deps));
	switch (req->keyname) {
	case SGX_KEYNAME_SEAL:
		ret = svn_checks(req, secs);
		if (ret)
			return ret;
		if ((req->keypolicy & SGX_KEYPOLICY_CONFIGID) && req->config_svn > secs->config_svn)
			return SGX_INVALID_ISVSVN;
		deps->keypolicy = req->keypolicy;
		if (req->keypolicy & SGX_KEYPOLICY_MRENCLAVE)
			memcpy(deps->mrenclave, secs->mrenclave, SGX_HASH_SIZE);
		if (req->keypolicy & SGX_KEYPOLICY_MRSIGNER)
			memcpy(deps->mrsigner, secs->mrsigner, SGX_HASH_SIZE);
		if (!(req->keypolicy & SGX_KEYPOLICY_NOISVPRODID))
			deps->isvprodid = secs->isv_prod_id;
		if (req->keypolicy & SGX_KEYPOLICY_CONFIGID) {
			memcpy(deps->config_id, secs->config_id, sizeof(deps->config_id));
			deps->config_svn = req->config_svn;
		}
		deps->attributes_mask = req->attribute_mask;
		deps->xfrm_mask = req->xfrm_mask;
		deps->misc_mask = ~req->misc_mask;
		memcpy(deps->keyid, req->keyid, sizeof(deps->keyid));
		break;
	case SGX_KEYNAME_REPORT:
		/* Exactly what EREPORT uses for a TARGETINFO naming this enclave. */
		targetinfo_of(secs, &self);
		report_key_deps(&self, req->keyid, deps);
		return SGX_SUCCESS;
	case SGX_KEYNAME_EINITTOKEN:
		if (!(secs->attributes & SGX_ATTR_EINITTOKENKEY))
			return SGX_INVALID_ATTRIBUTE;
		ret = svn_checks(req, secs);
		if (ret)
			return ret;
		deps->isvprodid = secs->isv_prod_id;
		memcpy(deps->mrsigner, secs->mrsigner, SGX_HASH_SIZE);
		memcpy(deps->keyid, req->keyid, sizeof(deps->keyid));
		break;
	case SGX_KEYNAME_PROVISION:
	case SGX_KEYNAME_PROVISION_SEAL:
		if (!(secs->attributes & SGX_ATTR_PROVISIONKEY))
			return SGX_INVALID_ATTRIBUTE;
		ret = svn_checks(req, secs);
		if (ret)
			return ret;
		deps->isvprodid = secs->isv_prod_id;
		memcpy(deps->mrsigner, secs->mrsigner, SGX_HASH_SIZE);
		deps->attributes_mask = req->attribute_mask;
		deps->xfrm_mask = req->xfrm_mask;
		deps->misc_mask = ~req->misc_mask;
		break;
	default:
		return SGX_INVALID_KEYNAME;
	}
	deps->keyname = req->keyname;
	deps->isvsvn = req->isvsvn;
	deps->attributes = attributes;
	deps->xfrm = xfrm;
	deps->miscselect = miscselect;
	memcpy(deps->cpusvn, req->cpusvn, SGX_CPUSVN_SIZE);
	return SGX_SUCCESS;
}

int enclu_egetkey(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs)
{
	uint64_t req_la = regs->rbx, out_la = regs->rcx;
	struct key_dependencies deps;
	const struct sgx_secs *secs;
	struct sgx_keyrequest req;
	uint8_t *req_p, *out_p;
	uint8_t key[KEY_SIZE];
	int ret;

	/* ENCLU: EGETKEY outside enclave mode is #GP(0). */
	if (!lp->inside)
		return enclu_gp(lp);
	ret = enclu_operand_gp(lp, req_la, sizeof(struct sgx_keyrequest), KEYREQUEST_ALIGN);
	if (!ret)
		ret = enclu_operand_page(hw, lp, mmu, req_la, HW_MMU_READ, &req_p);
	if (!ret)
		ret = enclu_operand_gp(lp, out_la, KEY_SIZE, KEY_ALIGN);
	if (!ret)
		ret = enclu_operand_page(hw, lp, mmu, out_la, HW_MMU_READ | HW_MMU_WRITE, &out_p);
	if (ret)
		return ret;
	secs = enclu_current_secs(hw, lp);
	if (!secs)
		return enclu_gp(lp);

	memcpy(&req, req_p, sizeof(req));
	if (!keyrequest_valid(&req, secs))
		return enclu_gp(lp);

	ret = egetkey_deps(&req, secs, &deps);
	if (ret == SGX_SUCCESS) {
		if (derive_key(hw, &deps, key)) {
			OPENSSL_cleanse(&deps, sizeof(deps));
			return enclu_gp(lp);
		}
		memcpy(out_p, key, KEY_SIZE);
		OPENSSL_cleanse(key, sizeof(key));
	}
	OPENSSL_cleanse(&deps, sizeof(deps));

	regs->rax = (uint64_t)ret;
	regs->rflags &= ~(X86_EFLAGS_ZF | X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF |
			  X86_EFLAGS_OF | X86_EFLAGS_SF);
	if (ret)
		regs->rflags |= X86_EFLAGS_ZF;
	regs->rip += SGX_ENCLU_LEN;
	return ret;
}
