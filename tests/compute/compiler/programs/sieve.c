#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sieve of Eratosthenes over a heap array. */
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    char *composite = malloc(n + 1);
    int count = 0, last = 0;
    memset(composite, 0, n + 1);
    for (int i = 2; i <= n; i++) {
        if (composite[i]) continue;
        count++;
        last = i;
        for (long j = (long)i * i; j <= n; j += i) composite[j] = 1;
    }
    printf("%d primes <= %d, largest %d\n", count, n, last);
    free(composite);
    return 0;
}
