#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<harness>/).

Each seed is a short operation sequence in the harness's input encoding (see
the op_* functions of tests/fuzz/fuzz_*.c), meant to reach one interesting
state: an initialized and mapped enclave, reclaim and reload, bad pointers.
The fuzzer mutates from there. Run from the repository root; regression
inputs found by fuzzing live beside these files under names of their own.
"""
import os
import struct
import sys


def u8(*v):
    return bytes(x & 0xFF for x in v)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


# ---- fuzz_enclave_ioctl ----
OPEN, CLOSE, DUP, CREATE, ADD, ADD2, INIT, PROVISION, IOCTL, MMAP, MUNMAP, MPROTECT, \
    FAULT, FAULT2, RECLAIM, SIGNAL, SGX2 = range(17)
CGROUP = 18  # after SGX2_B
# op_cgroup: b = what (0 move here, 1 set max, 2 rmdir, 3 read) | path index << 2
# (0 "/", 1 "/a", 2 "/a/b", 3 "/c"); set max reads one more byte: pages, 0xff "max".
GOOD, NULLP, WILD, HALF = 0x00, 0xE0, 0xE1, 0xE2
SI_TCS, SI_RW, SI_RX, SI_R = 0, 1, 2, 3


def e_open(slot, path=0):
    return u8(OPEN, slot, path)


def e_create(slot, size_log=2, src=GOOD, arg=GOOD):
    return u8(CREATE, 0, slot, size_log, src, arg)


def e_add(slot, si, src_page, off, npages, measure=True, src=GOOD, secinfo=GOOD):
    b = (si << 3) | (1 if measure else 0)
    return u8(ADD, b, slot, src_page, src, off, npages, secinfo)


def e_init(slot, sig=GOOD, arg=GOOD):
    return u8(INIT, 0, slot, sig, arg)


def e_mmap(slot, page, npages, prot=3, flags=0):
    return u8(MMAP, flags, slot, page, npages, prot)


def e_fault(page, access=0):
    return u8(FAULT, access, page) + u16(0)


# op_sgx2: b = cmd (0 RESTRICT, 1 MODIFY_TYPES, 2 REMOVE_PAGES) | 4 raw range
# | 8 raw permissions/type | idx << 4 | 0x40 preset count/result | 0x80 pointer.
RESTRICT, MODT, REMOVE = 0, 1, 2
P_R, P_RW, P_NONE, P_RX = 0, 1, 2, 3
T_TRIM, T_TCS, T_REG = 0, 1, 3


def e_sgx2(slot, cmd, page, npages, idx=0, extra_b=0, extra=b""):
    return u8(SGX2, cmd | (idx << 4) | extra_b, slot, page, npages) + extra


def enclave_seeds():
    build = (e_open(0) + e_create(0) + e_add(0, SI_TCS, 0, 0, 1) + e_add(0, SI_RW, 1, 1, 3)
             + e_init(0) + e_mmap(0, 0, 8))
    yield "init_map_fault_reclaim", (u8(0x10) + build + e_fault(1) + e_fault(2, 1)
                                     + u8(RECLAIM, 3) + e_fault(1) + e_fault(3, 2)
                                     + u8(MUNMAP, 0, 0, 8) + u8(CLOSE, 0))
    # 6 EPC pages for an enclave of 1 + 1 + 6: ADD reclaims, then runs out.
    yield "oversubscribe", (u8(0x00) + e_open(0) + e_create(0, 3) + e_add(0, SI_TCS, 0, 0, 1)
                            + e_add(0, SI_RW, 1, 1, 3) + e_add(0, SI_RX, 4, 4, 3)
                            + u8(RECLAIM, 0) + e_init(0) + e_mmap(0, 0, 16, 1) + e_fault(5)
                            + e_fault(1) + e_fault(2))
    yield "bad_pointers", (u8(0x08) + e_open(0) + e_create(0, 2, WILD, GOOD)
                           + e_create(0, 2, GOOD, NULLP) + e_create(0)
                           + e_add(0, SI_RW, 7, 1, 2, src=GOOD)
                           + e_add(0, SI_RW, 0, 3, 1, src=HALF)
                           + e_add(0, SI_RW, 0, 4, 1, secinfo=NULLP)
                           + u8(ADD, 0x0B, 0, 1, GOOD, 5, 1, GOOD)  # count not writable
                           + e_init(0, WILD) + e_init(0, GOOD, NULLP))
    # The process in /a/b under a limit of 5 pages on /a: ADD reclaims inside
    # the cgroup, a lowered limit reclaims the rest, rmdir refuses.
    yield "cgroup_limit", (u8(0x10) + u8(CGROUP, 0x08) + u8(CGROUP, 0x05, 5) + build
                           + e_fault(1) + e_fault(2, 1) + u8(CGROUP, 0x0F) + u8(CGROUP, 0x05, 1)
                           + u8(CGROUP, 0x06) + e_fault(3) + u8(CGROUP, 0x05, 0xFF)
                           + u8(CGROUP, 0x00) + e_fault(1) + u8(CLOSE, 0) + u8(MUNMAP, 0, 0, 8)
                           + u8(CGROUP, 0x0A) + u8(CGROUP, 0x06))
    yield "provision", (u8(0x11) + e_open(0) + e_open(1, 3) + u8(PROVISION, 0, 0, 1, GOOD)
                        + u8(PROVISION, 0, 1) + u64(1 << 32 | 1) + u8(GOOD)
                        + u8(PROVISION, 0, 0, 2, GOOD) + e_create(0)
                        + u8(PROVISION, 0, 0, 1, GOOD))
    yield "dup_close", (u8(0x12) + e_open(0) + u8(DUP, 0, 1) + u8(CLOSE, 0) + e_create(1)
                        + u8(DUP, 1, 2) + e_add(2, SI_TCS, 0, 0, 1) + u8(CLOSE, 1)
                        + e_mmap(2, 0, 4, 3) + u8(CLOSE, 2) + e_fault(0) + u8(CLOSE, 0xF0)
                        + u32(5))
    yield "mprotect_after_init", (u8(0x14) + build + u8(MPROTECT, 0, 1, 1, 1)
                                  + u8(MPROTECT, 0, 1, 1, 7) + u8(MPROTECT, 0, 0, 16, 1)
                                  + e_fault(1, 1) + e_fault(2, 2) + e_mmap(0, 8, 2, 3))
    yield "signal_pending", (u8(0x13) + e_open(0) + e_create(0) + u8(SIGNAL)
                             + e_add(0, SI_TCS, 0, 0, 1) + u8(SIGNAL) + e_add(0, SI_TCS, 0, 0, 1)
                             + u8(SIGNAL) + e_init(0))
    yield "vepc_and_sgx2", (u8(0x30) + e_open(0, 4) + e_mmap(0, 0, 4, 3) + e_fault(0, 1)
                            + u8(IOCTL, 3, 0) + bytes(48) + e_open(1) + u8(IOCTL, 0, 1)
                            + bytes(48) + e_fault(1))
    # SGX2 on an initialized enclave: EAUG by fault, then the three ioctls on
    # added, augmented (PENDING), trimmed and missing pages, across reclaim.
    sgx2 = u8(0x30) + build
    yield "sgx2_eaug_restrict_trim_remove", (
        sgx2 + e_fault(5, 1) + e_fault(6) + e_sgx2(0, RESTRICT, 1, 1, P_R)
        + e_sgx2(0, RESTRICT, 5, 1, P_R) + e_sgx2(0, MODT, 5, 2, T_TRIM)
        + e_sgx2(0, MODT, 2, 1, T_TRIM) + e_sgx2(0, REMOVE, 2, 1) + e_sgx2(0, REMOVE, 3, 1)
        + e_sgx2(0, MODT, 3, 1, T_TCS) + e_sgx2(0, MODT, 3, 1, T_TCS) + e_sgx2(0, MODT, 2, 1, T_TCS)
        + e_sgx2(0, RESTRICT, 7, 1) + u8(RECLAIM, 3) + e_sgx2(0, RESTRICT, 1, 1, P_NONE)
        + e_sgx2(0, RESTRICT, 0, 1) + e_fault(2, 0) + e_fault(7, 1) + u8(RECLAIM, 3)
        + e_fault(7) + e_sgx2(0, MODT, 6, 2, T_TRIM) + u8(MUNMAP, 0, 0, 8) + u8(CLOSE, 0))
    yield "sgx2_args", (
        u8(0x30) + e_open(0) + e_create(0) + e_sgx2(0, RESTRICT, 1, 1)
        + e_add(0, SI_TCS, 0, 0, 1) + e_add(0, SI_RW, 1, 1, 3) + e_init(0)
        + e_sgx2(0, RESTRICT, 1, 1, P_NONE, 8, u64(8)) + e_sgx2(0, RESTRICT, 1, 1, P_RW, 8, u64(2))
        + e_sgx2(0, RESTRICT, 1, 1, P_R, 0x40, u8(1, 0)) + e_sgx2(0, MODT, 1, 1, T_TRIM, 0x40, u8(0, 3))
        + e_sgx2(0, REMOVE, 1, 1, 0, 0x40, u8(1)) + e_sgx2(0, MODT, 1, 1, T_REG)
        + e_sgx2(0, MODT, 1, 1, 0, 8, u64(0x104)) + e_sgx2(0, RESTRICT, 0, 0)
        + u8(SGX2, 4, 0) + u64(0x800) + u64(0x1000) + u8(SGX2, 5, 0) + u64(0x1000) + u64(~0xFFF)
        + u8(SGX2, 6, 0) + u64(0x7000) + u64(0x2000)
        + e_sgx2(0, RESTRICT, 1, 1, P_R, 0x80, u8(0)) + e_sgx2(0, MODT, 2, 1, T_TRIM, 0x80, u8(1))
        + e_sgx2(0, MODT, 2, 1, T_TRIM, 0x80, u8(2)) + e_sgx2(0, REMOVE, 2, 1, 0, 0x80, u8(2))
        + e_open(1, 4) + e_sgx2(1, RESTRICT, 0, 1) + e_sgx2(2, REMOVE, 0, 1) + u8(SIGNAL)
        + e_sgx2(0, MODT, 3, 1, T_TRIM))
    # A CPU without SGX2: ENODEV before anything, and a hole faults SIGBUS.
    yield "sgx2_off", (u8(0x10) + build + e_sgx2(0, RESTRICT, 1, 1) + e_sgx2(0, MODT, 1, 1)
                       + e_sgx2(0, REMOVE, 1, 1, 0, 0x80, u8(1)) + e_fault(5, 1))


# ---- fuzz_vepc ----
V_OPEN, V_CLOSE, V_MMAP, V_MUNMAP, V_FAULT, V_FAULT2, V_REMOVE_ALL, V_ENTER, V_BOOT, V_DOWN, \
    V_GENCL, V_HENCL, V_RECLAIM = range(13)


def v_setup(a_pages=2, b_pages=20):
    return (u8(V_OPEN, 0, V_OPEN, 1) + u8(V_MMAP, 0, 0, a_pages - 1, 0)
            + u8(V_MMAP, 0, 1, b_pages - 1, 0))


def v_guest_enclave(nr_reg=6, init=True, close=False, touch=0xFF):
    return u8(V_GENCL, nr_reg | (0x80 if init else 0) | (0x40 if close else 0), touch)


def vepc_seeds():
    cycle = v_setup() + u8(V_BOOT, 1) + v_guest_enclave()
    yield "reboot_cycle", (u8(0x30) + cycle + u8(V_DOWN, 1, V_REMOVE_ALL, 0, V_REMOVE_ALL, 1,
                                                  V_REMOVE_ALL, 0, V_BOOT, 1, V_DOWN, 0,
                                                  V_MUNMAP, 1, 0, V_MUNMAP, 1, 1, V_CLOSE, 0,
                                                  V_CLOSE, 1))
    yield "reboot_dirty", (u8(0x30) + cycle + u8(V_DOWN, 1, V_BOOT, 1, V_RECLAIM, 1)
                           + v_guest_enclave(3) + u8(V_DOWN, 1, V_BOOT, 1))
    yield "zombie_secs", (u8(0x30) + cycle + u8(V_DOWN, 1, V_CLOSE, 0, V_MUNMAP, 1, 0,
                                                 V_CLOSE, 1, V_MUNMAP, 1, 1))
    enter = b"".join(u8(V_ENTER, i, 1, i) for i in range(4))
    yield "busy_inside", (u8(0x30) + cycle + enter + u8(V_REMOVE_ALL, 1, V_DOWN, 1)
                          + u8(V_REMOVE_ALL, 1, V_REMOVE_ALL, 0) + enter
                          + u8(V_REMOVE_ALL, 1, V_REMOVE_ALL, 0))
    yield "competes_with_host", (u8(0x00) + u8(V_HENCL, 6, V_OPEN, 0, V_MMAP, 0, 0, 7, 0)
                                 + b"".join(u8(V_FAULT, 1, 0) + u16(i) for i in range(8))
                                 + u8(V_RECLAIM, 0, V_HENCL, 0)
                                 + b"".join(u8(V_FAULT, 0, 0) + u16(i) for i in range(8)))
    yield "mmap_rules", (u8(0x01) + u8(V_OPEN, 0, V_MMAP, 3, 0, 1, 0, V_MMAP, 4, 0, 1, 0)
                         + u64(100) + u8(V_MMAP, 0, 0, 3, 2) + u8(V_MMAP, 0x10, 0, 1, 0, 0, 1)
                         + u8(V_REMOVE_ALL, 0x80) + u64(1) + u8(V_REMOVE_ALL, 0x40) + u32(0x1234)
                         + u8(V_FAULT, 1, 0) + u16(1) + u8(V_MUNMAP, 0, 0, 1, 1)
                         + u8(V_FAULT, 1, 0) + u16(1) + u8(V_REMOVE_ALL, 0))
    yield "guest_one_section", (u8(0x20) + u8(V_OPEN, 2, V_MMAP, 0, 2, 15, 0, V_BOOT, 0)
                                + v_guest_enclave(2, True, True) + v_guest_enclave(4, False)
                                + u8(V_DOWN, 0, V_BOOT, 0, V_DOWN, 1, V_CLOSE, 2))


# ---- fuzz_eldu ----
BK_REG, BK_TCS, BK_SECS = range(3)


def eld(bk=BK_REG, block=False, secs_sel=0, ops=0, dst=0, extra=b""):
    ctl = bk | (4 if block else 0) | (secs_sel << 3)
    return u8(ctl, ops, dst) + extra


def eldu_seeds():
    yield "clean_then_replay", eld() + eld()
    yield "all_three_types", eld(BK_TCS) + eld(BK_SECS, dst=1) + eld(BK_REG, dst=2)
    yield "eldb", eld(block=True) + eld(BK_TCS, block=True)
    yield "tamper_contents", eld(ops=1, extra=u16(100) + u8(0x80)) + eld()
    yield "tamper_pcmd_mac", eld(ops=4, extra=u16(112) + u8(1)) + eld(BK_TCS)
    yield "tamper_pcmd_reserved", eld(ops=4, extra=u16(80) + u8(1)) + eld(ops=4, extra=u16(0) + u8(0x10))
    yield "tamper_linaddr", eld(ops=0x10, extra=u64(0x1000)) + eld(BK_SECS, ops=0x10, extra=u64(1))
    yield "other_slots", (eld(ops=0x20, extra=u16(1)) + eld(ops=0x20, extra=u16(100) + u8(0) + u64(1))
                          + eld(ops=0x20, extra=u16(100) + u8(1)) + eld())
    yield "secs_operands", b"".join(eld(secs_sel=i, extra=u8(3)) for i in range(3, 8)) + eld(BK_SECS, secs_sel=3)
    yield "misaligned", (eld(ops=0x40, extra=u8(5)) + eld(ops=0x80, extra=u8(9))
                         + u8(0x40, 0, 0) + u8(0x80, 0, 0))
    yield "destinations", eld(dst=0xC0) + eld(dst=0xC2) + eld(dst=0xE3) + eld(dst=0xF0) + eld(dst=0xC5)


# ---- fuzz_vdso_entry ----
TCS0, CODE, SSA0, DATA, RODATA, TCS1, SSA1 = 0, 1, 2, 4, 5, 6, 7


def en(op, lp=0, mask=0, tcs=0, extra=b""):
    b = op + (130 if lp else 0) if op in (0, 1, 2, 3, 4, 5, 6) else op
    return u8(b) + u16(mask) + u8(tcs) + extra


def aex(vector, err=0, addr_page=0, lp=0):
    return u8(6 + (130 if lp else 0), vector) + u32(err) + u8(addr_page)


def poke(page_idx, off, val):
    return u8(7, page_idx) + u16(off) + u64(val)


# op 9: an SGX2 step. ENCLS: b = leaf (0 EAUG, 1 EMODPR, 2 EMODT, 3 ETRACK)
# | 0x10 any EPC page | 0x20 raw operand | 0x40 (EMODPR keeps R, EMODT to TCS,
# EAUG with a SECINFO), n = page. ENCLU: b = leaf (0 EACCEPT, 2 EMODPE,
# 3 EACCEPTCOPY) | slot << 5, n (0x80: page 9 + n % 7, past the image),
# SECINFO flags index (0 REG RW PENDING, 1 TRIM MODIFIED, 2 TCS MODIFIED,
# 3 REG R PR, 4 REG RWX, 5 REG RX PENDING, 6 REG PR).
EAUG, EMODPR, EMODT, ETRACK = 0, 1, 2, 3
EACCEPT, EMODPE, EACCEPTCOPY = 0, 2, 3
AUG0, AUG1 = 0x85, 0x86  # linear pages 9 and 10 (EPC pages 10 and 11)


def s2_encls(b, n=0, extra=b""):
    return u8(9, 0, b, n) + extra


def s2_enclu(b, n, si, lp=0):
    return u8(9 + (130 if lp else 0), 1, b, n, si)


def entry_seeds():
    enter, eexit = en(0), en(2)
    yield "enter_exit", u8(0) + enter + eexit + enter + eexit
    yield "aex_eresume", u8(0) + enter + aex(32) + en(1) + aex(6) + en(1) + eexit
    yield "exinfo_pf_gp", u8(1) + enter + aex(14, 6, DATA) + en(1) + aex(13, 0x18) + en(1) + eexit
    yield "two_processors", (u8(0) + enter + en(0, lp=1) + en(0, lp=1, tcs=1) + aex(32, lp=1)
                             + en(1, lp=1, tcs=1) + en(2, lp=1) + eexit)
    # EREPORT: TARGETINFO and REPORT in DATA, REPORTDATA at DATA + 0x400.
    report = en(3, mask=0x7, extra=u8(DATA) + u64(0x100000000 + DATA * 4096 + 0x400)
                + u8(DATA | 0x40) + u16(0x200))
    getkey = en(4, mask=0x3, extra=u8(DATA) + u64(0x100000000 + DATA * 4096 + 0x800))
    yield "ereport_egetkey", u8(0) + enter + report + getkey + poke(2, 0, 0) + eexit
    yield "poke_tcs", (u8(0) + poke(0, 24, 2 << 32 | 5) + enter + poke(0, 24, 2 << 32) + poke(0, 8, 4) + enter
                       + poke(0, 8, 0) + poke(0, 16, 0x10000) + enter + poke(0, 16, 0x2000)
                       + enter + eexit)
    yield "poke_ssa_eresume", (u8(0) + enter + aex(32) + poke(2, 512, 0xFFFFFFFF) + en(1)
                               + poke(2, 512, 0) + en(1) + eexit)
    yield "mmu_games", (u8(0) + u8(8, 0, TCS0) + enter + u8(8, 1, TCS0, 2) + enter
                        + u8(8, 1, TCS0, 1) + u8(8, 2 | (1 << 2), SSA0) + enter
                        + u8(8, 2 | (3 << 2), SSA0) + enter + eexit)
    yield "odd_registers", (u8(0) + en(0, mask=0x0008, extra=u64(0x302)) + eexit
                            + en(0, mask=0x0040, extra=u64(1 << 60)) + en(0, mask=0x0002, extra=u64(1 << 63))
                            + en(5, extra=u8(9)) + en(0, mask=0x0400, extra=u64(7)) + enter
                            + en(0, mask=0x0300, extra=u32(600) + u16(512) + u64(~0)) + aex(32)
                            + en(1) + eexit)
    enter, eexit = en(0), en(2)
    # A heap page EAUG'd and accepted, one filled by EACCEPTCOPY, EMODPE, a
    # restriction accepted only after ETRACK and an exit, a page trimmed and
    # accepted, a page made a TCS.
    yield "sgx2_eaug_accept", (u8(0) + enter + s2_encls(EAUG, 0) + s2_encls(EAUG, 1)
                               + s2_enclu(EACCEPT, AUG0, 0) + s2_enclu(EACCEPTCOPY, AUG1, 4)
                               + s2_enclu(EMODPE, DATA, 4) + s2_encls(EMODPR | 0x40, DATA)
                               + s2_encls(ETRACK) + s2_enclu(EACCEPT | 0x20, DATA, 3) + eexit + enter
                               + s2_enclu(EACCEPT | 0x20, DATA, 3)
                               + s2_encls(EMODT | 0x10, 10) + s2_encls(ETRACK) + eexit + enter
                               + s2_enclu(EACCEPT | 0x40, AUG0, 1)
                               + s2_encls(EMODT | 0x50, 11) + s2_encls(ETRACK) + eexit + enter
                               + s2_enclu(EACCEPT | 0x60, AUG1, 2) + eexit)
    # Two processors: tracking waits for the other one to leave (AEX).
    yield "sgx2_two_processors", (u8(0) + enter + en(0, lp=1, tcs=1) + s2_encls(EMODPR | 0x40, DATA)
                                  + s2_encls(ETRACK) + s2_encls(ETRACK) + eexit + enter
                                  + s2_enclu(EACCEPT, DATA, 3) + aex(32, lp=1)
                                  + s2_enclu(EACCEPT, DATA, 3) + s2_encls(EMODT, TCS1)
                                  + en(1, lp=1, tcs=1) + s2_encls(EMODPR, CODE)
                                  + s2_enclu(EACCEPT, AUG0, 0, lp=1) + eexit)
    # SGX1 CPU: every SGX2 leaf is #GP.
    yield "sgx2_off", (u8(2) + enter + s2_encls(EAUG, 0) + s2_encls(EMODPR, DATA)
                       + s2_encls(EMODT, DATA) + s2_enclu(EACCEPT, AUG0, 0)
                       + s2_enclu(EMODPE, DATA, 4) + s2_enclu(EACCEPTCOPY, AUG1, 4) + eexit)


# ---- vdso_shim (tests/shim/test_vdso_replay.c, not a libFuzzer harness) ----
NOP, COPY_IN, COPY_OUT, READ_U64, WRITE_U64, UD2, DIV_ZERO, EREPORT, EGETKEY, BUFFER, MAGIC = range(11)


def vcall(tsel=0, fsel=0, op=NOP, hsel=0, junk=0, extra=b""):
    return u8(tsel, fsel, op, hsel, junk) + extra


def vdso_shim_seeds():
    yield "nop_both_tcs", vcall() + vcall(1) + vcall(op=MAGIC) + vcall(1, op=BUFFER)
    yield "exceptions", (vcall(op=UD2, hsel=0x80 | 2 | (3 << 2), extra=u8(0)) + vcall(op=DIV_ZERO)
                         + vcall() + vcall(fsel=2) + vcall(1, op=UD2) + vcall(1, op=UD2)
                         + vcall(1) + vcall(1, fsel=2))
    yield "bad_function_reserved", (vcall(fsel=3, extra=u32(7)) + vcall(fsel=3, extra=u32(1 << 32 | 2))
                                    + vcall(junk=2, extra=u8(10) + u8(1))
                                    + vcall(junk=1, extra=u16(14) + u64(0xdead)))
    yield "bad_tcs", (vcall(2, extra=u8(1)) + vcall(3, extra=u8(1)) + vcall(4)
                      + vcall(5, extra=u64(0x1000)) + vcall(5, extra=u64(1 << 63)))
    # EENTER on an enclave page that is no TCS: the shim used to retry forever.
    yield "regress_eenter_not_a_tcs", vcall(3, extra=u8(2)) + vcall() + vcall(3, extra=u8(3))
    yield "copy_pointers", (vcall(op=COPY_IN, extra=u8(0xF0) + u16(100))
                            + vcall(op=COPY_OUT, extra=u8(0xF1) + u16(100))
                            + vcall(op=COPY_IN, extra=u8(0) + u16(0) + u16(8192))
                            + vcall(op=COPY_OUT, extra=u8(0) + u16(4000) + u16(9000))
                            + vcall(op=EGETKEY, extra=u8(0) + u16(0) + u8(0) + u16(1024))
                            + vcall(op=EREPORT, extra=u8(0xF1) + u8(0xF0)))
    yield "enclave_addresses", (vcall(op=READ_U64, extra=u32(0)) + vcall(op=READ_U64, extra=u32(0x3008))
                                + vcall(op=READ_U64, extra=u32(0xFFFFFFF8))
                                + vcall(op=WRITE_U64, extra=u16(8) + u64(42))
                                + vcall(op=WRITE_U64, extra=u16(8191) + u64(1)))
    yield "handler_returns", (vcall(hsel=0x81, extra=u8(5)) + vcall(hsel=0x80 | 3 | (2 << 2), extra=u8(0))
                              + vcall(op=UD2, hsel=0x81, extra=u8(199))
                              + vcall(op=DIV_ZERO, hsel=0x80 | 2 | (7 << 2), extra=u8(0)))


# ---- fuzz_service_proto ----
SVC_MAGIC, SVC_VERSION = 0x58475353, 1
S_HELLO, S_STATUS, S_TOP, S_SHUTDOWN, S_GET_EPC = 1, 2, 3, 4, 5
S_CG_READ, S_CG_SET_MAX, S_CG_REMOVE, S_CG_LIST = 15, 16, 17, 18
CG_MAX = 0xFFFFFFFFFFFFFFFF
FIX, TRUNC = 4, 8


def smsg(conn, body, ctl=0):
    return u8(conn | ctl) + u16(len(body)) + body


def shdr(typ, payload=b"", seq=1, magic=SVC_MAGIC, version=SVC_VERSION, length=None):
    n = len(payload) if length is None else length
    return struct.pack("<IHHII", magic, version, typ, n, seq) + payload


def s_config(sections=1, size=32 * 4096, flags=0):
    sizes = [size if i < sections else 0 for i in range(8)]
    return u32(sections) + u32(flags) + b"".join(u64(x) for x in sizes)


def s_hello(flags=0, cfg=None, program=b"seed"):
    cfg = s_config() if cfg is None else cfg
    return u32(4242) + u32(SVC_VERSION) + u32(flags) + u32(0) + cfg + program.ljust(64, b"\0")


def s_cgroup(path, file=b"", mx=0):
    return u64(mx) + file.ljust(32, b"\0") + path.ljust(1024, b"\0")


def service_seeds():
    hello = shdr(S_HELLO, s_hello())
    yield "hello_then_all", (smsg(0, hello) + smsg(0, shdr(S_STATUS, seq=2))
                             + smsg(0, shdr(S_TOP, seq=3)) + smsg(0, shdr(S_GET_EPC, seq=4))
                             + smsg(0, shdr(S_SHUTDOWN, u32(0) + u32(0), seq=5)))
    yield "control_and_client", (smsg(0, hello) + smsg(1, shdr(S_HELLO, s_hello(3)))
                                 + smsg(1, shdr(S_SHUTDOWN, u32(0) + u32(0)))
                                 + smsg(1, shdr(S_SHUTDOWN, u32(1) + u32(0)))
                                 + smsg(1, shdr(S_TOP)))
    yield "config_mismatch", (smsg(0, shdr(S_HELLO, s_hello(0, s_config(2, 8192))))
                              + smsg(0, shdr(S_HELLO, s_hello(0, s_config(1, 4095))))
                              + smsg(0, shdr(S_HELLO, s_hello(0, s_config(1, 32 * 4096, 1))))
                              + smsg(0, shdr(S_STATUS)))
    yield "framing", (smsg(0, shdr(S_STATUS, magic=0x1234)) + smsg(1, b"SSGX\x01")
                      + smsg(2, shdr(S_STATUS, length=0xFFFFFFF0))
                      + smsg(3, shdr(S_STATUS, version=9)) + smsg(0, shdr(S_STATUS), TRUNC)
                      + smsg(0, b""))
    yield "fixed_up", (smsg(0, shdr(77, b"junk"), FIX) + smsg(0, shdr(S_HELLO, s_hello()[:-3]), FIX)
                       + smsg(0, shdr(S_HELLO, s_hello(0x80)), FIX)
                       + smsg(0, shdr(S_HELLO, s_hello(program=b"x" * 64)), FIX)
                       + smsg(0, shdr(S_STATUS | 0x8000), FIX))
    # EPC cgroups (issue 17): a client in a named cgroup, limits set, read, listed, removed.
    yield "cgroups", (smsg(0, shdr(S_HELLO, s_hello() + b"/vm\0"))
                      + smsg(1, shdr(S_HELLO, s_hello(3), seq=2))
                      + smsg(1, shdr(S_CG_SET_MAX, s_cgroup(b"/vm", mx=16 * 4096), seq=3))
                      + smsg(1, shdr(S_CG_SET_MAX, s_cgroup(b"/host/a", mx=8 * 4096), seq=4))
                      + smsg(1, shdr(S_CG_READ, s_cgroup(b"/vm", b"misc.current"), seq=5))
                      + smsg(1, shdr(S_CG_READ, s_cgroup(b"/", b"misc.capacity"), seq=6))
                      + smsg(1, shdr(S_CG_READ, s_cgroup(b"/vm", b"misc.events"), seq=7))
                      + smsg(1, shdr(S_CG_LIST, seq=8)) + smsg(1, shdr(S_TOP, seq=9))
                      + smsg(1, shdr(S_CG_REMOVE, s_cgroup(b"/vm"), seq=10))
                      + smsg(1, shdr(S_CG_REMOVE, s_cgroup(b"/host"), seq=11))
                      + smsg(1, shdr(S_CG_SET_MAX, s_cgroup(b"/host/a", mx=CG_MAX), seq=12)))
    yield "cgroups_bad", (smsg(0, shdr(S_HELLO, s_hello(3)))
                          + smsg(0, shdr(S_CG_SET_MAX, s_cgroup(b"/", mx=4096)))
                          + smsg(0, shdr(S_CG_READ, s_cgroup(b"/a/../b", b"misc.max")))
                          + smsg(0, shdr(S_CG_READ, s_cgroup(b"/nope", b"misc.max")))
                          + smsg(0, shdr(S_CG_REMOVE, s_cgroup(b"/")))
                          + smsg(2, shdr(S_HELLO, s_hello() + b"/a//b\0"))
                          + smsg(3, shdr(S_HELLO, s_hello() + b"/x")))
    yield "fds_attached", (smsg(0, hello) + smsg(0, shdr(S_STATUS), 0x10)
                           + smsg(0, shdr(S_GET_EPC), 0x70) + smsg(0, shdr(S_STATUS)))


SEEDS = {
    "fuzz_enclave_ioctl": enclave_seeds,
    "fuzz_vepc": vepc_seeds,
    "fuzz_eldu": eldu_seeds,
    "fuzz_vdso_entry": entry_seeds,
    "vdso_shim": vdso_shim_seeds,
    "fuzz_service_proto": service_seeds,
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
    for harness, gen in SEEDS.items():
        d = os.path.join(root, harness)
        os.makedirs(d, exist_ok=True)
        for name, data in gen():
            prefix = "" if name.startswith("regress_") else "seed_"
            with open(os.path.join(d, prefix + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
