#include <stdio.h>
#include <string.h>

/* printf's common conversions, flags, widths and precisions; sprintf for integers and strings. */
int main(void) {
    char buf[64];
    printf("[%d] [%5d] [%-5d] [%05d] [%+d] [% d] [%.3d]\n", 42, 42, 42, 42, 42, 42, 7);
    printf("[%u] [%x] [%X] [%#x] [%o] [%#o] [%lu] [%lld] [%hhd] [%hu]\n", 3000000000u, 255, 255, 255, 8, 8,
           18446744073709551615ul, -9223372036854775807ll - 1, (signed char)200, (unsigned short)70000);
    printf("[%c] [%s] [%10s] [%-10s] [%.2s] [%*d] [%-*d] [%.*s]\n", 'A', "str", "right", "left", "trunc", 6, 9, 6, 9, 3, "abcdef");
    printf("[%f] [%.2f] [%10.4f] [%e] [%.3E] [%g] [%g] [%g] [%G]\n", 3.14159265, 2.675, -1.5, 123456.789, 0.000123,
           100000.0, 1000000.0, 0.0001, 1e-10);
    printf("[%5.1f%%] [%p] [%s]\n", 99.5, (void *)0, "end");
    sprintf(buf, "%d-%x-%s-%5u|%-4d|%c", -17, 0xbeef, "ok", 42u, 3, 'z');
    puts(buf);
    printf("%d\n", (int)strlen(buf));
    printf("%d\n", snprintf(buf, 5, "%d", 123456));
    puts(buf);
    return 0;
}
