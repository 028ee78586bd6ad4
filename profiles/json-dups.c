#include "profiles/json-dups.h"

#include <string.h>

#include "vmm/base/util.h"

/* One open object or array: for an object, the keys seen so far and where. */
struct frame {
	bool object;
	bool expect_key;  /* after '{' or ',' in an object */
	struct strv keys;
	int *lines;
};

/* The scanner's position in the text. */
struct scan {
	const char *text;
	size_t len, at;
	int line, col;
};

/* Moves one character on, counting lines and columns. */
static void step(struct scan *s)
{
	if (s->text[s->at] == '\n') {
		s->line++;
		s->col = 1;
	} else
		s->col++;
	s->at++;
}

/* Skips a string whose opening quote is at the position; returns its text (escapes as written). */
static char *read_string(struct scan *s)
{
	size_t start;

	step(s);
	start = s->at;
	while (s->at < s->len && s->text[s->at] != '"') {
		if (s->text[s->at] == '\\' && s->at + 1 < s->len)
			step(s);
		step(s);
	}
	return xasprintf("%.*s", (int)(s->at - start), s->text + start);
}

/* Skips a comment starting at the position (the text is valid: it is one). */
static void skip_comment(struct scan *s)
{
	bool line = s->text[s->at + 1] == '/';

	step(s);
	step(s);
	while (s->at < s->len) {
		if (line && s->text[s->at] == '\n')
			return;
		if (!line && s->text[s->at] == '*' && s->at + 1 < s->len && s->text[s->at + 1] == '/') {
			step(s);
			step(s);
			return;
		}
		step(s);
	}
}

/* Records key in the object frame f at line; true (and *dup) when f has it already. */
static bool add_key(struct frame *f, char *key, int line, int col, struct json_dup *dup)
{
	for (size_t i = 0; i < f->keys.n; i++)
		if (!strcmp(f->keys.v[i], key)) {
			*dup = (struct json_dup){ .key = key, .line = line, .col = col, .first_line = f->lines[i] };
			return true;
		}
	f->lines = xrealloc(f->lines, (f->keys.n + 1) * sizeof(*f->lines));
	f->lines[f->keys.n] = line;
	strv_push(&f->keys, key);
	free(key);
	return false;
}

/* Frees a frame's keys. */
static void frame_free(struct frame *f)
{
	strv_free(&f->keys);
	free(f->lines);
}

bool json_find_duplicate(const char *text, size_t len, struct json_dup *dup)
{
	struct scan s = { .text = text, .len = len, .line = 1, .col = 1 };
	struct frame *stack = NULL;
	size_t depth = 0;
	bool found = false;

	while (!found && s.at < s.len) {
		char ch = text[s.at];
		struct frame *top = depth ? &stack[depth - 1] : NULL;

		if (ch == '/' && s.at + 1 < s.len && (text[s.at + 1] == '/' || text[s.at + 1] == '*')) {
			skip_comment(&s);
			continue;
		}
		if (ch == '"') {
			int line = s.line, col = s.col;
			char *str = read_string(&s);
			if (top && top->object && top->expect_key) {
				top->expect_key = false;
				found = add_key(top, str, line, col, dup);
			} else
				free(str);
		} else if (ch == '{' || ch == '[') {
			stack = xrealloc(stack, (depth + 1) * sizeof(*stack));
			stack[depth++] = (struct frame){ .object = ch == '{', .expect_key = ch == '{' };
		} else if ((ch == '}' || ch == ']') && depth)
			frame_free(&stack[--depth]);
		else if (ch == ',' && top && top->object)
			top->expect_key = true;
		if (s.at < s.len)
			step(&s);
	}
	while (depth)
		frame_free(&stack[--depth]);
	free(stack);
	return found;
}
