/* SPDX-License-Identifier: MIT */
/*
 * Intrusive circular doubly-linked list (the kernel's list_head). The list never owns its
 * elements: embed a struct list_node in the element and free elements yourself.
 */
#ifndef UM_LIB_LIST_H
#define UM_LIB_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/compiler.h"

struct list_node {
	struct list_node *next;
	struct list_node *prev;
};

static inline void
list_init(struct list_node *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool
list_is_empty(const struct list_node *head)
{
	return head->next == head;
}

static inline void
list_insert_after(struct list_node *pos, struct list_node *n)
{
	n->prev = pos;
	n->next = pos->next;
	pos->next->prev = n;
	pos->next = n;
}

/* Append n at the tail of head. */
static inline void
list_push_back(struct list_node *head, struct list_node *n)
{
	list_insert_after(head->prev, n);
}

static inline void
list_push_front(struct list_node *head, struct list_node *n)
{
	list_insert_after(head, n);
}

/* Unlink n; n is left self-linked, so removing twice is harmless. */
static inline void
list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n;
	n->prev = n;
}

static inline size_t
list_count(const struct list_node *head)
{
	size_t n = 0;

	for (const struct list_node *p = head->next; p != head; p = p->next)
		n++;
	return n;
}

#define list_entry(ptr, type, member)       UM_CONTAINER_OF(ptr, type, member)
#define list_entry_const(ptr, type, member) UM_CONTAINER_OF_CONST(ptr, type, member)

#define list_for_each(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Iterate while allowing removal of pos. */
#define list_for_each_safe(pos, tmp, head)                               \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif /* UM_LIB_LIST_H */
