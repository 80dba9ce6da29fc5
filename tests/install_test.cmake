# Install test: cmake --install this build into a fresh prefix, check the installed symcheck (binary, man
# page, bash completion), then configure, build and run tests/consumer against it with find_package(symgrad).
# Run by ctest as: cmake -D... -P install_test.cmake
foreach(var BUILD_DIR CONSUMER_DIR WORK_DIR VERSION TESTS_DIR MAN_PAGE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${step} failed (${rc})\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f include/symgrad/engine/graph.hpp include/symgrad/ops/ops.hpp include/symgrad/engine/gradcheck.hpp)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "install test: ${f} was not installed")
  endif()
endforeach()
include("${TESTS_DIR}/installed_tool_checks.cmake")
check_installed_symcheck("${prefix}" "${VERSION}" "${WORK_DIR}" "${TESTS_DIR}" "${MAN_PAGE}")
run("configuring the consumer" ${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run("building the consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("running the consumer" "${WORK_DIR}/build/seed_network")
message("${last_output}")
# The consumer prints the cost and one line per parameter: check that real numbers came out.
if(NOT last_output MATCHES "cost J = [0-9]+\\.[0-9]+")
  message(FATAL_ERROR "install test: the consumer printed no cost")
endif()
if(NOT last_output MATCHES "gradient d J / d W1 \\(4x7\\):( -?[0-9]+\\.[0-9]+)+")
  message(FATAL_ERROR "install test: the consumer printed no gradient for W1")
endif()
if(last_output MATCHES "nan|inf")
  message(FATAL_ERROR "install test: the consumer printed a non-finite number")
endif()
