/* SPDX-License-Identifier: MIT */
/* Unit tests for src/lib/list.h: the intrusive circular doubly-linked list. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "lib/list.h"

struct item {
	int id;
	struct list_node node;
	int pad;
};

/* Check the list reads ids[0..n) forwards and backwards, with consistent links. */
static void
assert_list_ids(struct list_node *head, const int *ids, size_t n)
{
	struct list_node *pos;
	size_t i = 0;

	assert_int_equal(list_count(head), n);
	assert_int_equal(list_is_empty(head), n == 0);
	list_for_each (pos, head) {
		assert_true(i < n);
		assert_int_equal(list_entry(pos, struct item, node)->id, ids[i]);
		assert_ptr_equal(pos->next->prev, pos);
		assert_ptr_equal(pos->prev->next, pos);
		i++;
	}
	assert_int_equal(i, n);
	for (pos = head->prev; pos != head; pos = pos->prev) {
		assert_true(i > 0);
		i--;
		assert_int_equal(list_entry(pos, struct item, node)->id, ids[i]);
	}
	assert_int_equal(i, 0);
}

static void
test_list_empty(void **state)
{
	struct list_node head;
	struct list_node *pos, *tmp;
	int visited = 0;

	(void)state;
	list_init(&head);
	assert_true(list_is_empty(&head));
	assert_int_equal(list_count(&head), 0);
	assert_ptr_equal(head.next, &head);
	assert_ptr_equal(head.prev, &head);
	list_for_each (pos, &head)
		visited++;
	list_for_each_safe (pos, tmp, &head)
		visited++;
	assert_int_equal(visited, 0);
}

static void
test_list_push_back_and_front(void **state)
{
	struct item it[4] = { { .id = 0 }, { .id = 1 }, { .id = 2 }, { .id = 3 } };
	struct list_node head;

	(void)state;
	list_init(&head);
	list_push_back(&head, &it[1].node);
	assert_list_ids(&head, (const int[]){ 1 }, 1);
	list_push_back(&head, &it[2].node);
	list_push_front(&head, &it[0].node);
	list_push_back(&head, &it[3].node);
	assert_list_ids(&head, (const int[]){ 0, 1, 2, 3 }, 4);
	assert_ptr_equal(head.next, &it[0].node);
	assert_ptr_equal(head.prev, &it[3].node);
}

static void
test_list_insert_after(void **state)
{
	struct item it[3] = { { .id = 10 }, { .id = 20 }, { .id = 30 } };
	struct list_node head;

	(void)state;
	list_init(&head);
	list_push_back(&head, &it[0].node);
	list_push_back(&head, &it[2].node);
	list_insert_after(&it[0].node, &it[1].node);
	assert_list_ids(&head, (const int[]){ 10, 20, 30 }, 3);
}

static void
test_list_entry_recovers_container(void **state)
{
	struct item it = { .id = 77 };

	(void)state;
	assert_ptr_equal(list_entry(&it.node, struct item, node), &it);
}

static void
test_list_remove(void **state)
{
	struct item it[5];
	struct list_node head;

	(void)state;
	list_init(&head);
	for (int i = 0; i < 5; i++) {
		it[i].id = i;
		list_push_back(&head, &it[i].node);
	}
	/* Middle, head end, tail end. */
	list_remove(&it[2].node);
	assert_list_ids(&head, (const int[]){ 0, 1, 3, 4 }, 4);
	list_remove(&it[0].node);
	assert_list_ids(&head, (const int[]){ 1, 3, 4 }, 3);
	list_remove(&it[4].node);
	assert_list_ids(&head, (const int[]){ 1, 3 }, 2);

	/* A removed node is self-linked, so removing it again is harmless. */
	assert_ptr_equal(it[2].node.next, &it[2].node);
	assert_ptr_equal(it[2].node.prev, &it[2].node);
	list_remove(&it[2].node);
	assert_list_ids(&head, (const int[]){ 1, 3 }, 2);

	/* A removed node can be pushed again. */
	list_push_front(&head, &it[4].node);
	assert_list_ids(&head, (const int[]){ 4, 1, 3 }, 3);

	list_remove(&it[1].node);
	list_remove(&it[3].node);
	list_remove(&it[4].node);
	assert_list_ids(&head, NULL, 0);
	assert_ptr_equal(head.next, &head);
	assert_ptr_equal(head.prev, &head);
}

static void
test_list_safe_iteration_with_removal(void **state)
{
	struct item it[8];
	struct list_node head;
	struct list_node *pos, *tmp;
	int visited = 0;

	(void)state;
	list_init(&head);
	for (int i = 0; i < 8; i++) {
		it[i].id = i;
		list_push_back(&head, &it[i].node);
	}
	/* Remove every odd element while walking, and clobber the removed node. */
	list_for_each_safe (pos, tmp, &head) {
		struct item *e = list_entry(pos, struct item, node);

		visited++;
		if (e->id % 2 != 0) {
			list_remove(pos);
			pos->next = NULL;
			pos->prev = NULL;
		}
	}
	assert_int_equal(visited, 8);
	assert_list_ids(&head, (const int[]){ 0, 2, 4, 6 }, 4);

	/* Remove everything. */
	visited = 0;
	list_for_each_safe (pos, tmp, &head) {
		visited++;
		list_remove(pos);
	}
	assert_int_equal(visited, 4);
	assert_true(list_is_empty(&head));
}

static void
test_list_safe_iteration_frees_heap_elements(void **state)
{
	struct list_node head;
	struct list_node *pos, *tmp;
	int sum = 0;

	(void)state;
	list_init(&head);
	for (int i = 1; i <= 100; i++) {
		struct item *e = malloc(sizeof(*e));

		assert_non_null(e);
		e->id = i;
		list_push_back(&head, &e->node);
	}
	assert_int_equal(list_count(&head), 100);
	list_for_each_safe (pos, tmp, &head) {
		struct item *e = list_entry(pos, struct item, node);

		sum += e->id;
		list_remove(pos);
		free(e);
	}
	assert_int_equal(sum, 5050);
	assert_true(list_is_empty(&head));
	assert_int_equal(list_count(&head), 0);
}

static void
test_list_count_large(void **state)
{
	static struct item it[1000];
	struct list_node head;

	(void)state;
	list_init(&head);
	for (int i = 0; i < 1000; i++) {
		it[i].id = i;
		if (i % 2 == 0)
			list_push_back(&head, &it[i].node);
		else
			list_push_front(&head, &it[i].node);
	}
	assert_int_equal(list_count(&head), 1000);
	/* Front holds odd ids descending, then even ids ascending. */
	assert_int_equal(list_entry(head.next, struct item, node)->id, 999);
	assert_int_equal(list_entry(head.prev, struct item, node)->id, 998);
	for (int i = 0; i < 1000; i += 3)
		list_remove(&it[i].node);
	assert_int_equal(list_count(&head), 1000 - 334);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_empty),
		cmocka_unit_test(test_list_push_back_and_front),
		cmocka_unit_test(test_list_insert_after),
		cmocka_unit_test(test_list_entry_recovers_container),
		cmocka_unit_test(test_list_remove),
		cmocka_unit_test(test_list_safe_iteration_with_removal),
		cmocka_unit_test(test_list_safe_iteration_frees_heap_elements),
		cmocka_unit_test(test_list_count_large),
	};

	return cmocka_run_group_tests_name("list", tests, NULL, NULL);
}
