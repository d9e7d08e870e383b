/* SPDX-License-Identifier: MIT */
/*
 * Architectural SGX definitions from the Intel SDM, Vol. 3D: leaf numbers,
 * return codes, attribute and SECINFO bits, and the in-memory structures
 * (SECS, TCS, SECINFO, PAGEINFO, PCMD, SIGSTRUCT, EINITTOKEN, REPORT,
 * TARGETINFO, KEYREQUEST, SSA GPR area). Sizes and offsets are pinned by
 * static assertions at the end of the file.
 */
#ifndef SOFTSGX_SGX_ARCH_H
#define SOFTSGX_SGX_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "softsgx/compiler.h"

SOFTSGX_BEGIN_DECLS

#define SGX_PAGE_SIZE 4096UL
#define SGX_PAGE_SHIFT 12
#define SGX_CPUID 0x12
#define SGX_MODULUS_SIZE 384
#define SGX_HASH_SIZE 32

enum sgx_encls_leaf {
	SGX_ECREATE = 0x00,
	SGX_EADD = 0x01,
	SGX_EINIT = 0x02,
	SGX_EREMOVE = 0x03,
	SGX_EDBGRD = 0x04,
	SGX_EDBGWR = 0x05,
	SGX_EEXTEND = 0x06,
	SGX_ELDB = 0x07,
	SGX_ELDU = 0x08,
	SGX_EBLOCK = 0x09,
	SGX_EPA = 0x0A,
	SGX_EWB = 0x0B,
	SGX_ETRACK = 0x0C,
	SGX_EAUG = 0x0D,
	SGX_EMODPR = 0x0E,
	SGX_EMODT = 0x0F,
};

enum sgx_enclu_leaf {
	SGX_EREPORT = 0x00,
	SGX_EGETKEY = 0x01,
	SGX_EENTER = 0x02,
	SGX_ERESUME = 0x03,
	SGX_EEXIT = 0x04,
	SGX_EACCEPT = 0x05,
	SGX_EMODPE = 0x06,
	SGX_EACCEPTCOPY = 0x07,
};

/* The ENCLU instruction: 0F 01 D7. */
#define SGX_ENCLU_OPCODE_0 0x0F
#define SGX_ENCLU_OPCODE_1 0x01
#define SGX_ENCLU_OPCODE_2 0xD7

enum sgx_return_code {
	SGX_SUCCESS = 0,
	SGX_INVALID_SIG_STRUCT = 1,
	SGX_INVALID_ATTRIBUTE = 2,
	SGX_BLKSTATE = 3,
	SGX_INVALID_MEASUREMENT = 4,
	SGX_NOTBLOCKABLE = 5,
	SGX_PG_INVLD = 6,
	SGX_EPC_PAGE_CONFLICT = 7,
	SGX_INVALID_SIGNATURE = 8,
	SGX_MAC_COMPARE_FAIL = 9,
	SGX_PAGE_NOT_BLOCKED = 10,
	SGX_NOT_TRACKED = 11,
	SGX_VA_SLOT_OCCUPIED = 12,
	SGX_CHILD_PRESENT = 13,
	SGX_ENCLAVE_ACT = 14,
	SGX_ENTRYEPOCH_LOCKED = 15,
	SGX_INVALID_EINITTOKEN = 16,
	SGX_PREV_TRK_INCMPL = 17,
	SGX_PG_IS_SECS = 18,
	SGX_PAGE_ATTRIBUTES_MISMATCH = 19,
	SGX_PAGE_NOT_MODIFIABLE = 20,
	SGX_PAGE_NOT_DEBUGGABLE = 21,
	SGX_INVALID_CPUSVN = 32,
	SGX_INVALID_ISVSVN = 64,
	SGX_UNMASKED_EVENT = 128,
	SGX_INVALID_KEYNAME = 256,
};

enum sgx_attribute {
	SGX_ATTR_INIT = 0x1,
	SGX_ATTR_DEBUG = 0x2,
	SGX_ATTR_MODE64BIT = 0x4,
	SGX_ATTR_PROVISIONKEY = 0x10,
	SGX_ATTR_EINITTOKENKEY = 0x20,
	SGX_ATTR_CET = 0x40,
	SGX_ATTR_KSS = 0x80,
	SGX_ATTR_AEXNOTIFY = 0x400,
};

/* Bits that software may never set in SECS.ATTRIBUTES on this platform. */
#define SGX_ATTR_RESERVED_MASK                                                 \
	(~(uint64_t)(SGX_ATTR_INIT | SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT |       \
		     SGX_ATTR_PROVISIONKEY | SGX_ATTR_EINITTOKENKEY | SGX_ATTR_CET | \
		     SGX_ATTR_KSS | SGX_ATTR_AEXNOTIFY))

enum sgx_miscselect {
	SGX_MISC_EXINFO = 0x1,
};

enum sgx_page_type {
	SGX_PAGE_TYPE_SECS = 0,
	SGX_PAGE_TYPE_TCS = 1,
	SGX_PAGE_TYPE_REG = 2,
	SGX_PAGE_TYPE_VA = 3,
	SGX_PAGE_TYPE_TRIM = 4,
};

enum sgx_secinfo_flags {
	SGX_SECINFO_R = 0x01,
	SGX_SECINFO_W = 0x02,
	SGX_SECINFO_X = 0x04,
	SGX_SECINFO_PENDING = 0x08,
	SGX_SECINFO_MODIFIED = 0x10,
	SGX_SECINFO_PR = 0x20,
	SGX_SECINFO_SECS = SGX_PAGE_TYPE_SECS << 8,
	SGX_SECINFO_TCS = SGX_PAGE_TYPE_TCS << 8,
	SGX_SECINFO_REG = SGX_PAGE_TYPE_REG << 8,
	SGX_SECINFO_VA = SGX_PAGE_TYPE_VA << 8,
	SGX_SECINFO_TRIM = SGX_PAGE_TYPE_TRIM << 8,
};

#define SGX_SECINFO_PERMISSION_MASK 0x7ULL
#define SGX_SECINFO_PAGE_TYPE_MASK (0xFFULL << 8)
#define SGX_SECINFO_PAGE_TYPE(flags) (((flags) >> 8) & 0xFF)
/* Bits EADD accepts in SECINFO.FLAGS: permissions and the page type. */
#define SGX_SECINFO_RESERVED_MASK                                              \
	(~(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PAGE_TYPE_MASK))

#define SGX_TCS_DBGOPTIN 0x1ULL
#define SGX_TCS_RESERVED_MASK (~SGX_TCS_DBGOPTIN)

/* Number of 8-byte version slots in a Version Array page. */
#define SGX_VA_SLOT_COUNT 512

/* IA32_SGXLEPUBKEYHASH0..3 */
#define MSR_IA32_SGXLEPUBKEYHASH0 0x8C
#define MSR_IA32_SGXLEPUBKEYHASH3 0x8F

struct sgx_secs {
	uint64_t size;
	uint64_t base;
	uint32_t ssa_frame_size;
	uint32_t miscselect;
	uint8_t reserved1[24];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t config_id[64];
	uint16_t isv_prod_id;
	uint16_t isv_svn;
	uint16_t config_svn;
	uint8_t reserved4[3834];
} __attribute__((packed, aligned(4096)));

struct sgx_tcs {
	uint64_t state;
	uint64_t flags;
	uint64_t ssa_offset;
	uint32_t ssa_index;
	uint32_t nr_ssa_frames;
	uint64_t entry_offset;
	uint64_t exit_addr;
	uint64_t fs_offset;
	uint64_t gs_offset;
	uint32_t fs_limit;
	uint32_t gs_limit;
	uint8_t reserved[4024];
} __attribute__((packed, aligned(4096)));

struct sgx_secinfo {
	uint64_t flags;
	uint8_t reserved[56];
} __attribute__((packed, aligned(64)));

/* Operand of ECREATE, EADD, EWB, ELDU and ELDB. */
struct sgx_pageinfo {
	uint64_t addr;	   /* LINADDR */
	uint64_t contents; /* SRCPGE */
	uint64_t metadata; /* SECINFO or PCMD */
	uint64_t secs;
} __attribute__((packed, aligned(32)));

/* Paging Crypto MetaData written by EWB and checked by ELDU/ELDB. */
struct sgx_pcmd {
	struct sgx_secinfo secinfo;
	uint64_t enclave_id;
	uint8_t reserved[40];
	uint8_t mac[16];
} __attribute__((packed, aligned(128)));

struct sgx_sigstruct_header {
	uint8_t header1[16];
	uint32_t vendor;
	uint32_t date;
	uint8_t header2[16];
	uint32_t swdefined;
	uint8_t reserved1[84];
} __attribute__((packed));

struct sgx_sigstruct_body {
	uint32_t miscselect;
	uint32_t misc_mask;
	uint8_t reserved2[4];
	uint8_t isv_family_id[16];
	uint64_t attributes;
	uint64_t xfrm;
	uint64_t attributes_mask;
	uint64_t xfrm_mask;
	uint8_t mrenclave[32];
	uint8_t reserved3[16];
	uint8_t isv_ext_prod_id[16];
	uint16_t isvprodid;
	uint16_t isvsvn;
} __attribute__((packed));

/* The constant HEADER and HEADER2 strings of a SIGSTRUCT. */
#define SGX_SIGSTRUCT_HEADER1                                                  \
	{ 0x06, 0x00, 0x00, 0x00, 0xE1, 0x00, 0x00, 0x00,                     \
	  0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00 }
#define SGX_SIGSTRUCT_HEADER2                                                  \
	{ 0x01, 0x01, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,                     \
	  0x60, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00 }
#define SGX_SIGSTRUCT_VENDOR_INTEL 0x8086

/*
 * The enclave signature. Header and body are what the RSA signature covers;
 * modulus, signature, Q1 and Q2 are little-endian integers.
 */
struct sgx_sigstruct {
	struct sgx_sigstruct_header header;
	uint8_t modulus[SGX_MODULUS_SIZE];
	uint32_t exponent;
	uint8_t signature[SGX_MODULUS_SIZE];
	struct sgx_sigstruct_body body;
	uint8_t reserved4[12];
	uint8_t q1[SGX_MODULUS_SIZE];
	uint8_t q2[SGX_MODULUS_SIZE];
} __attribute__((packed));

struct sgx_einittoken {
	uint32_t valid;
	uint8_t reserved1[44];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t cpusvn_le[16];
	uint16_t isvprodid_le;
	uint16_t isvsvn_le;
	uint8_t reserved4[24];
	uint32_t masked_miscselect_le;
	uint64_t masked_attributes_le;
	uint64_t masked_xfrm_le;
	uint8_t keyid[32];
	uint8_t mac[16];
} __attribute__((packed));

/* EINIT wants the token 512-byte aligned; the structure itself is 304 bytes. */
#define SGX_EINITTOKEN_ALIGN 512
/* EREPORT wants the report 512-byte aligned; the structure itself is 432 bytes. */
#define SGX_REPORT_ALIGN 512

struct sgx_report_body {
	uint8_t cpusvn[16];
	uint32_t miscselect;
	uint8_t reserved1[12];
	uint8_t isv_ext_prod_id[16];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t config_id[64];
	uint16_t isv_prod_id;
	uint16_t isv_svn;
	uint16_t config_svn;
	uint8_t reserved4[42];
	uint8_t isv_family_id[16];
	uint8_t report_data[64];
} __attribute__((packed));

struct sgx_report {
	struct sgx_report_body body;
	uint8_t keyid[32];
	uint8_t mac[16];
} __attribute__((packed));

struct sgx_targetinfo {
	uint8_t mrenclave[32];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t reserved1[2];
	uint16_t config_svn;
	uint32_t miscselect;
	uint8_t reserved2[8];
	uint8_t config_id[64];
	uint8_t reserved3[384];
} __attribute__((packed, aligned(512)));

enum sgx_keyname {
	SGX_KEYNAME_EINITTOKEN = 0,
	SGX_KEYNAME_PROVISION = 1,
	SGX_KEYNAME_PROVISION_SEAL = 2,
	SGX_KEYNAME_REPORT = 3,
	SGX_KEYNAME_SEAL = 4,
};

enum sgx_keypolicy {
	SGX_KEYPOLICY_MRENCLAVE = 0x01,
	SGX_KEYPOLICY_MRSIGNER = 0x02,
	SGX_KEYPOLICY_NOISVPRODID = 0x04,
	SGX_KEYPOLICY_CONFIGID = 0x08,
	SGX_KEYPOLICY_ISVFAMILYID = 0x10,
	SGX_KEYPOLICY_ISVEXTPRODID = 0x20,
};

struct sgx_keyrequest {
	uint16_t keyname;
	uint16_t keypolicy;
	uint16_t isvsvn;
	uint8_t reserved1[2];
	uint8_t cpusvn[16];
	uint64_t attribute_mask;
	uint64_t xfrm_mask;
	uint8_t keyid[32];
	uint32_t misc_mask;
	uint16_t config_svn;
	uint8_t reserved2[434];
} __attribute__((packed, aligned(512)));

/* EXITINFO of the SSA GPR area. */
#define SGX_EXITINFO_VECTOR_MASK 0xFFu
#define SGX_EXITINFO_TYPE_SHIFT 8
#define SGX_EXITINFO_VALID (1u << 31)

/* The GPR area at the end of each SSA frame. */
struct sgx_ssa_gpr {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags;
	uint64_t rip;
	uint64_t ursp;
	uint64_t urbp;
	uint32_t exitinfo;
	uint32_t reserved;
	uint64_t fsbase;
	uint64_t gsbase;
} __attribute__((packed));

/* MISC.EXINFO, stored just below the GPR area when MISCSELECT.EXINFO is set. */
struct sgx_ssa_exinfo {
	uint64_t maddr;
	uint32_t errcd;
	uint32_t reserved;
} __attribute__((packed));

#define SGX_ASSERT_SIZE(type, size) SOFTSGX_STATIC_ASSERT(sizeof(type) == (size), #type)
#define SGX_ASSERT_OFF(type, field, off)                                      \
	SOFTSGX_STATIC_ASSERT(offsetof(type, field) == (off), #type "." #field)

SGX_ASSERT_SIZE(struct sgx_secs, 4096);
SGX_ASSERT_OFF(struct sgx_secs, base, 8);
SGX_ASSERT_OFF(struct sgx_secs, ssa_frame_size, 16);
SGX_ASSERT_OFF(struct sgx_secs, miscselect, 20);
SGX_ASSERT_OFF(struct sgx_secs, attributes, 48);
SGX_ASSERT_OFF(struct sgx_secs, xfrm, 56);
SGX_ASSERT_OFF(struct sgx_secs, mrenclave, 64);
SGX_ASSERT_OFF(struct sgx_secs, mrsigner, 128);
SGX_ASSERT_OFF(struct sgx_secs, config_id, 192);
SGX_ASSERT_OFF(struct sgx_secs, isv_prod_id, 256);
SGX_ASSERT_OFF(struct sgx_secs, isv_svn, 258);
SGX_ASSERT_OFF(struct sgx_secs, config_svn, 260);
SGX_ASSERT_OFF(struct sgx_secs, reserved4, 262);

SGX_ASSERT_SIZE(struct sgx_tcs, 4096);
SGX_ASSERT_OFF(struct sgx_tcs, flags, 8);
SGX_ASSERT_OFF(struct sgx_tcs, ssa_offset, 16);
SGX_ASSERT_OFF(struct sgx_tcs, ssa_index, 24);
SGX_ASSERT_OFF(struct sgx_tcs, nr_ssa_frames, 28);
SGX_ASSERT_OFF(struct sgx_tcs, entry_offset, 32);
SGX_ASSERT_OFF(struct sgx_tcs, exit_addr, 40);
SGX_ASSERT_OFF(struct sgx_tcs, fs_offset, 48);
SGX_ASSERT_OFF(struct sgx_tcs, gs_offset, 56);
SGX_ASSERT_OFF(struct sgx_tcs, fs_limit, 64);
SGX_ASSERT_OFF(struct sgx_tcs, gs_limit, 68);
SGX_ASSERT_OFF(struct sgx_tcs, reserved, 72);

SGX_ASSERT_SIZE(struct sgx_secinfo, 64);
SGX_ASSERT_SIZE(struct sgx_pageinfo, 32);
SGX_ASSERT_OFF(struct sgx_pageinfo, contents, 8);
SGX_ASSERT_OFF(struct sgx_pageinfo, metadata, 16);
SGX_ASSERT_OFF(struct sgx_pageinfo, secs, 24);

SGX_ASSERT_SIZE(struct sgx_pcmd, 128);
SGX_ASSERT_OFF(struct sgx_pcmd, enclave_id, 64);
SGX_ASSERT_OFF(struct sgx_pcmd, reserved, 72);
SGX_ASSERT_OFF(struct sgx_pcmd, mac, 112);

SGX_ASSERT_SIZE(struct sgx_sigstruct_header, 128);
SGX_ASSERT_SIZE(struct sgx_sigstruct_body, 128);
SGX_ASSERT_SIZE(struct sgx_sigstruct, 1808);
SGX_ASSERT_OFF(struct sgx_sigstruct, header.vendor, 16);
SGX_ASSERT_OFF(struct sgx_sigstruct, header.date, 20);
SGX_ASSERT_OFF(struct sgx_sigstruct, header.header2, 24);
SGX_ASSERT_OFF(struct sgx_sigstruct, header.swdefined, 40);
SGX_ASSERT_OFF(struct sgx_sigstruct, modulus, 128);
SGX_ASSERT_OFF(struct sgx_sigstruct, exponent, 512);
SGX_ASSERT_OFF(struct sgx_sigstruct, signature, 516);
SGX_ASSERT_OFF(struct sgx_sigstruct, body, 900);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.misc_mask, 904);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.isv_family_id, 912);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.attributes, 928);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.xfrm, 936);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.attributes_mask, 944);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.xfrm_mask, 952);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.mrenclave, 960);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.isv_ext_prod_id, 1008);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.isvprodid, 1024);
SGX_ASSERT_OFF(struct sgx_sigstruct, body.isvsvn, 1026);
SGX_ASSERT_OFF(struct sgx_sigstruct, reserved4, 1028);
SGX_ASSERT_OFF(struct sgx_sigstruct, q1, 1040);
SGX_ASSERT_OFF(struct sgx_sigstruct, q2, 1424);

SGX_ASSERT_SIZE(struct sgx_einittoken, 304);
SGX_ASSERT_OFF(struct sgx_einittoken, attributes, 48);
SGX_ASSERT_OFF(struct sgx_einittoken, mrenclave, 64);
SGX_ASSERT_OFF(struct sgx_einittoken, mrsigner, 128);
SGX_ASSERT_OFF(struct sgx_einittoken, cpusvn_le, 192);
SGX_ASSERT_OFF(struct sgx_einittoken, isvprodid_le, 208);
SGX_ASSERT_OFF(struct sgx_einittoken, isvsvn_le, 210);
SGX_ASSERT_OFF(struct sgx_einittoken, masked_miscselect_le, 236);
SGX_ASSERT_OFF(struct sgx_einittoken, masked_attributes_le, 240);
SGX_ASSERT_OFF(struct sgx_einittoken, keyid, 256);
SGX_ASSERT_OFF(struct sgx_einittoken, mac, 288);

SGX_ASSERT_SIZE(struct sgx_report_body, 384);
SGX_ASSERT_OFF(struct sgx_report_body, miscselect, 16);
SGX_ASSERT_OFF(struct sgx_report_body, isv_ext_prod_id, 32);
SGX_ASSERT_OFF(struct sgx_report_body, attributes, 48);
SGX_ASSERT_OFF(struct sgx_report_body, mrenclave, 64);
SGX_ASSERT_OFF(struct sgx_report_body, mrsigner, 128);
SGX_ASSERT_OFF(struct sgx_report_body, config_id, 192);
SGX_ASSERT_OFF(struct sgx_report_body, isv_prod_id, 256);
SGX_ASSERT_OFF(struct sgx_report_body, isv_svn, 258);
SGX_ASSERT_OFF(struct sgx_report_body, config_svn, 260);
SGX_ASSERT_OFF(struct sgx_report_body, isv_family_id, 304);
SGX_ASSERT_OFF(struct sgx_report_body, report_data, 320);
SGX_ASSERT_SIZE(struct sgx_report, 432);
SGX_ASSERT_OFF(struct sgx_report, keyid, 384);
SGX_ASSERT_OFF(struct sgx_report, mac, 416);

SGX_ASSERT_SIZE(struct sgx_targetinfo, 512);
SGX_ASSERT_OFF(struct sgx_targetinfo, attributes, 32);
SGX_ASSERT_OFF(struct sgx_targetinfo, config_svn, 50);
SGX_ASSERT_OFF(struct sgx_targetinfo, miscselect, 52);
SGX_ASSERT_OFF(struct sgx_targetinfo, config_id, 64);

SGX_ASSERT_SIZE(struct sgx_keyrequest, 512);
SGX_ASSERT_OFF(struct sgx_keyrequest, keypolicy, 2);
SGX_ASSERT_OFF(struct sgx_keyrequest, isvsvn, 4);
SGX_ASSERT_OFF(struct sgx_keyrequest, cpusvn, 8);
SGX_ASSERT_OFF(struct sgx_keyrequest, attribute_mask, 24);
SGX_ASSERT_OFF(struct sgx_keyrequest, keyid, 40);
SGX_ASSERT_OFF(struct sgx_keyrequest, misc_mask, 72);
SGX_ASSERT_OFF(struct sgx_keyrequest, config_svn, 76);

SGX_ASSERT_SIZE(struct sgx_ssa_gpr, 184);
SGX_ASSERT_OFF(struct sgx_ssa_gpr, rflags, 128);
SGX_ASSERT_OFF(struct sgx_ssa_gpr, rip, 136);
SGX_ASSERT_OFF(struct sgx_ssa_gpr, ursp, 144);
SGX_ASSERT_OFF(struct sgx_ssa_gpr, urbp, 152);
SGX_ASSERT_OFF(struct sgx_ssa_gpr, exitinfo, 160);
SGX_ASSERT_OFF(struct sgx_ssa_gpr, fsbase, 168);
SGX_ASSERT_OFF(struct sgx_ssa_gpr, gsbase, 176);
SGX_ASSERT_SIZE(struct sgx_ssa_exinfo, 16);

SOFTSGX_END_DECLS

#endif /* SOFTSGX_SGX_ARCH_H */
