/* stdio file I/O: every mode, reading back what was written, positions, fprintf to a file, ungetc,
   fgets with short buffers, EOF and feof, a missing file. (On the fabric files live in the program's
   in-memory file table for the run; under gcc they are real files in the working directory, removed at
   the end.) */
#include <stdio.h>
#include <string.h>

static void dump(const char *name) {
    FILE *f = fopen(name, "rb");
    int c, n = 0;
    if (!f) { printf("%s: cannot open\n", name); return; }
    printf("%s: [", name);
    while ((c = fgetc(f)) != EOF) { putchar(c < ' ' ? '.' : c); n++; }
    printf("] %d bytes, feof=%d\n", n, feof(f) != 0);
    fclose(f);
}

int main(void) {
    const char *a = "pfx_fileio_a.txt", *b = "pfx_fileio_b.txt";
    FILE *f = fopen("pfx_fileio_missing.txt", "r");
    printf("missing: %s\n", f ? "opened" : "NULL");

    f = fopen(a, "w");
    printf("fwrite=%zu\n", fwrite("line one\nline two\n", 1, 18, f));
    printf("fprintf=%d\n", fprintf(f, "%d-%05x|%-6s|%c\n", -42, 0xbeef, "ab", 'Z'));
    fputs("tail", f);
    fputc('!', f);
    putc('\n', f);
    fclose(f);
    dump(a);

    f = fopen(a, "a");
    fprintf(f, "appended %ld\n", 1234567890123L);
    fclose(f);
    dump(a);

    char buf[8];
    f = fopen(a, "r");
    while (fgets(buf, sizeof buf, f)) printf("fgets <%s> len=%zu\n", buf, strlen(buf));
    printf("at end: feof=%d ftell=%ld\n", feof(f) != 0, ftell(f));
    rewind(f);
    int c = getc(f);
    int u = ungetc('Q', f);
    int again = getc(f);
    printf("first=%c ungetc=%c again=%c next=%c\n", c, u, again, getc(f));
    fseek(f, -5, SEEK_END);
    char tail[6] = {0};
    printf("fread=%zu tail=%s", fread(tail, 1, 5, f), tail);
    fseek(f, 5, SEEK_SET);
    printf("fread2=%zu\n", fread(tail, 2, 2, f));
    tail[4] = 0;
    printf("tail2=%s ftell=%ld\n", tail, ftell(f));
    fclose(f);

    f = fopen(b, "w+");
    int nums[4] = {1, -2, 300000, 7}, back[4];
    fwrite(nums, sizeof nums[0], 4, f);
    fseek(f, 0, SEEK_SET);
    printf("fread ints=%zu:", fread(back, sizeof back[0], 4, f));
    for (int i = 0; i < 4; i++) printf(" %d", back[i]);
    printf(" then fgetc=%d\n", fgetc(f));
    fclose(f);

    f = fopen(a, "r+");
    fputs("LINE", f);
    fclose(f);
    dump(a);
    f = fopen(a, "w");
    fclose(f);
    dump(a);

    printf("remove=%d %d\n", remove(a), remove(b));
    dump(a);
    return 0;
}
