# Compile flags for test code (see anec_module below).
set(ANEC_TEST_CODE_FLAGS -O0)

# anec_add_test(BINARY SHARDS n)
# Registers the GoogleTest binary BINARY with CTest, with ANEC_SOURCE_DIR/ANEC_BINARY_DIR set.
# SHARDS n > 1 registers it n times as BINARY_<i>of<n>, each running every n-th test
# (GoogleTest's GTEST_TOTAL_SHARDS/GTEST_SHARD_INDEX), so `ctest -j` spreads a long binary over
# the cores; the sanitizer run needs that for the binaries that take minutes there.
function(anec_add_test binary)
  cmake_parse_arguments(ARG "" "SHARDS" "" ${ARGN})
  if(NOT ARG_SHARDS)
    set(ARG_SHARDS 1)
  endif()
  set(env "ANEC_SOURCE_DIR=${PROJECT_SOURCE_DIR};ANEC_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(ARG_SHARDS EQUAL 1)
    add_test(NAME ${binary} COMMAND ${binary})
    set_tests_properties(${binary} PROPERTIES ENVIRONMENT "${env}")
    return()
  endif()
  math(EXPR last "${ARG_SHARDS} - 1")
  foreach(i RANGE ${last})
    math(EXPR shown "${i} + 1")
    set(test ${binary}_${shown}of${ARG_SHARDS})
    add_test(NAME ${test} COMMAND ${binary})
    set_tests_properties(${test} PROPERTIES ENVIRONMENT
      "${env};GTEST_TOTAL_SHARDS=${ARG_SHARDS};GTEST_SHARD_INDEX=${i}")
  endforeach()
endfunction()

# anec_module(NAME DEPS dep... [TEST_DEPS dep...] [TEST_SHARDS n])
# Declares library anec_NAME from every *.cc in the calling folder except *_test.cc and
# *_main.cc, and one test binary NAME_tests from every *_test.cc there (registered with CTest,
# as n shards with TEST_SHARDS n). One concept per file means new files need no CMake edit.
# Test code is compiled at -O0 in every configuration (ANEC_TEST_CODE_FLAGS): the libraries it
# tests keep their configuration's flags, the tests run in seconds either way, and compiling the
# test half of the build takes about half the time (-O3 and the sanitizer build's -O1 both).
function(anec_module name)
  cmake_parse_arguments(ARG "" "TEST_SHARDS" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB all_cc CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  set(lib_cc "")
  set(test_cc "")
  foreach(f ${all_cc})
    if(f MATCHES "_test\\.cc$")
      list(APPEND test_cc ${f})
    elseif(NOT f MATCHES "_main\\.cc$")
      list(APPEND lib_cc ${f})
    endif()
  endforeach()
  if(lib_cc)
    add_library(anec_${name} STATIC ${lib_cc})
    target_include_directories(anec_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
    target_link_libraries(anec_${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(anec_${name} INTERFACE)
    target_include_directories(anec_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
    target_link_libraries(anec_${name} INTERFACE ${ARG_DEPS})
  endif()
  if(test_cc)
    add_executable(${name}_tests ${test_cc})
    target_link_libraries(${name}_tests PRIVATE anec_${name} ${ARG_TEST_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
    target_compile_options(${name}_tests PRIVATE ${ANEC_TEST_CODE_FLAGS})
    anec_add_test(${name}_tests SHARDS ${ARG_TEST_SHARDS})
  endif()
endfunction()
