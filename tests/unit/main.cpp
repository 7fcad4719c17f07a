// main.cpp — the Catch2 test runner (one translation unit defines main).
//
// What it is not: a test: the TEST_CASEs are the test_*.cpp files in the folders beside it,
// one per src/ folder (core, ops, kernels, nn, optim, data, config, train, compare, cli,
// parallel); their shared helpers are testutil/*.h. CTest lists them through
// catch_discover_tests (CMakeLists.txt).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
