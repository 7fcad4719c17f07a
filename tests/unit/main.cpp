// The Catch2 test runner (one translation unit defines main).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
