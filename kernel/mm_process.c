// SPDX-License-Identifier: MIT
/*
 * An mm's life as a process: the files it has open, fork() and exit. A
 * platform service serving many processes calls these for its clients;
 * private mode's fork() copies the whole platform instead (kernel/fork.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/fault_inject.h"
#include "kernel/epc_cgroup.h"
#include "kernel/mm.h"
#include "kernel/virt.h"

/* One descriptor of the process (its file table, cut down). */
struct sgx_mm_fd {
	int fd;
	struct sgx_file *file;
	struct list_head list;
};

/* With files_lock. */
static struct sgx_mm_fd *fd_find(struct sgx_mm *mm, int fd)
{
	struct list_head *pos;

	for (pos = mm->files.next; pos != &mm->files; pos = pos->next) {
		struct sgx_mm_fd *e = list_entry(pos, struct sgx_mm_fd, list);

		if (e->fd == fd)
			return e;
	}
	return NULL;
}

int sgx_mm_fd_install(struct sgx_mm *mm, int fd, struct sgx_file *f)
{
	struct sgx_mm_fd *e;
	int ret = 0;

	if (fd < 0)
		return -EBADF;
	pthread_mutex_lock(&mm->files_lock);
	if (fd_find(mm, fd)) {
		ret = -EBUSY;
	} else if (!(e = sgx_kcalloc(1, sizeof(*e)))) {
		ret = -ENOMEM;
	} else {
		e->fd = fd;
		e->file = f;
		list_add_tail(&e->list, &mm->files);
	}
	pthread_mutex_unlock(&mm->files_lock);
	return ret;
}

struct sgx_file *sgx_mm_fget(struct sgx_mm *mm, int fd)
{
	struct sgx_file *f = NULL;
	struct sgx_mm_fd *e;

	pthread_mutex_lock(&mm->files_lock);
	e = fd_find(mm, fd);
	if (e) {
		f = e->file;
		sgx_file_get(f);
	}
	pthread_mutex_unlock(&mm->files_lock);
	return f;
}

int sgx_mm_fd_close(struct sgx_mm *mm, int fd)
{
	struct sgx_mm_fd *e;

	pthread_mutex_lock(&mm->files_lock);
	e = fd_find(mm, fd);
	if (e)
		list_del_init(&e->list);
	pthread_mutex_unlock(&mm->files_lock);
	if (!e)
		return -EBADF;
	/* Outside files_lock: the last reference releases an enclave. */
	sgx_file_put(e->file);
	free(e);
	return 0;
}

/* The child's copies of @parent's descriptors, as fork() dup()s the file table. */
static int fork_files(struct sgx_mm *parent, struct sgx_mm *child)
{
	struct list_head *pos;
	int ret = 0;

	pthread_mutex_lock(&parent->files_lock);
	for (pos = parent->files.next; pos != &parent->files && !ret; pos = pos->next) {
		struct sgx_mm_fd *e = list_entry(pos, struct sgx_mm_fd, list);

		sgx_file_get(e->file);
		ret = sgx_mm_fd_install(child, e->fd, e->file);
		if (ret)
			sgx_file_put(e->file);
	}
	pthread_mutex_unlock(&parent->files_lock);
	return ret;
}

/* Copy @vma into @child with its file reference (Linux's dup_mmap() and vm_ops->open). */
static int fork_vma(struct sgx_mm *child, struct sgx_vma *vma)
{
	struct sgx_encl *encl = sgx_file_encl(vma->file);
	int ret = sgx_vma_insert(child, vma->start, vma->end, vma->prot, vma->file_base, vma->file);
	struct sgx_vma *copy;

	if (ret)
		return ret;
	sgx_file_get(vma->file);
	copy = list_entry(child->vmas.prev, struct sgx_vma, list);
	/* The child's page tables are a copy of the parent's: present stays present. */
	if (encl)
		sgx_encl_mm_copy_ptes(encl, vma->pte_bit, copy->pte_bit);
	return 0;
}

struct sgx_mm *sgx_mm_fork(struct sgx_mm *parent, const struct sgx_mm_ops *ops, void *ops_data,
			   int *err)
{
	struct sgx_mm *child = sgx_mm_create(ops, ops_data);
	struct list_head *pos;
	int ret = 0;

	if (!child) {
		*err = -ENOMEM;
		return NULL;
	}
	/* A child starts in its parent's cgroup, as fork() puts it. */
	sgx_mm_set_cgroup(child, atomic_load(&parent->cg));
	/* Lock order: the parent's mm, then the child's (new, nobody else sees it). */
	pthread_rwlock_rdlock(&parent->lock);
	pthread_rwlock_wrlock(&child->lock);
	for (pos = parent->vmas.next; pos != &parent->vmas && !ret; pos = pos->next)
		ret = fork_vma(child, list_entry(pos, struct sgx_vma, list));
	pthread_rwlock_unlock(&child->lock);
	pthread_rwlock_unlock(&parent->lock);
	if (!ret)
		ret = fork_files(parent, child);
	if (ret) {
		sgx_mm_exit(child);
		sgx_mm_put(child);
		*err = ret;
		return NULL;
	}
	return child;
}

void sgx_mm_exit(struct sgx_mm *mm)
{
	struct list_head dead = LIST_HEAD_INIT(dead);
	struct sgx_kernel *k = NULL;

	/* Linux's exit_mmap(): every VMA goes, its PTEs with it. */
	pthread_rwlock_wrlock(&mm->lock);
	while (!list_empty(&mm->vmas)) {
		struct sgx_vma *vma = list_first_entry(&mm->vmas, struct sgx_vma, list);

		sgx_vma_forget_ptes(vma, vma->start, vma->end);
		mm->ops->unmap(mm, vma->start, vma->end - vma->start);
		sgx_vma_unlink(mm, vma);
		list_add(&vma->list, &dead);
		k = vma->file->k;
	}
	pthread_rwlock_unlock(&mm->lock);
	/* As munmap: threads inside an enclave leave it before its last reference goes. */
	if (k && k->kick)
		k->kick(k, k->kick_data);
	while (!list_empty(&dead)) {
		struct sgx_vma *vma = list_first_entry(&dead, struct sgx_vma, list);

		list_del_init(&vma->list);
		sgx_file_put(vma->file);
		free(vma);
	}
	/* Then exit_files(): the last close of a file releases its enclave or vEPC. */
	for (;;) {
		struct sgx_mm_fd *e = NULL;

		pthread_mutex_lock(&mm->files_lock);
		if (!list_empty(&mm->files)) {
			e = list_first_entry(&mm->files, struct sgx_mm_fd, list);
			list_del_init(&e->list);
		}
		pthread_mutex_unlock(&mm->files_lock);
		if (!e)
			break;
		sgx_file_put(e->file);
		free(e);
	}
}

/* The usage id of the enclave or vEPC behind @f; 0 for other files. */
static uint64_t file_usage_id(struct sgx_file *f)
{
	struct sgx_encl *encl;

	switch (f->type) {
	case SGX_FILE_ENCLAVE:
		encl = sgx_file_encl(f);
		return encl ? encl->usage_id : 0;
	case SGX_FILE_VEPC:
		return f->private_data ? ((struct sgx_vepc *)f->private_data)->usage_id : 0;
	default:
		return 0;
	}
}

static unsigned int add_id(uint64_t *ids, unsigned int n, unsigned int max, uint64_t id)
{
	unsigned int i;

	if (!id)
		return n;
	for (i = 0; i < n && i < max; i++)
		if (ids[i] == id)
			return n;
	if (n < max)
		ids[n] = id;
	return n + 1;
}

unsigned int sgx_mm_usage_ids(struct sgx_mm *mm, uint64_t *ids, unsigned int max)
{
	struct list_head *pos;
	unsigned int n = 0;

	pthread_mutex_lock(&mm->files_lock);
	for (pos = mm->files.next; pos != &mm->files; pos = pos->next)
		n = add_id(ids, n, max, file_usage_id(list_entry(pos, struct sgx_mm_fd, list)->file));
	pthread_mutex_unlock(&mm->files_lock);
	/* An enclave stays the process's after close() while it is mapped. */
	pthread_rwlock_rdlock(&mm->lock);
	for (pos = mm->vmas.next; pos != &mm->vmas; pos = pos->next)
		n = add_id(ids, n, max, file_usage_id(list_entry(pos, struct sgx_vma, list)->file));
	pthread_rwlock_unlock(&mm->lock);
	return n;
}
