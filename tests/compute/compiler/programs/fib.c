#include <stdio.h>
#include <stdlib.h>

/* Recursive Fibonacci: calls and returns as routing. */
static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 12;
    printf("fib(%d) = %ld\n", n, fib(n));
    return (int)(fib(n) % 256);
}
