# Shows that the layering check fails on a planted violation: a tree whose engine/ includes a models/
# header must be refused, naming the file and line; the same tree without that line must pass.
# Run by ctest as: cmake -DCHECK=<cmake/check_layers.cmake> -DWORK_DIR=<dir> -P layer_check_test.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(WRITE "${WORK_DIR}/models/data.hpp" "#pragma once\n")
file(WRITE "${WORK_DIR}/ops/ops.hpp" "#pragma once\n#include \"engine/graph.hpp\"\n")
file(WRITE "${WORK_DIR}/engine/graph.hpp" "#pragma once\n")
file(WRITE "${WORK_DIR}/engine/graph.cpp" "// fine so far\n#include \"engine/graph.hpp\"\n#include \"models/data.hpp\"\n")

execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${WORK_DIR} -P ${CHECK} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "layer check test: engine/ including models/ was not refused")
endif()
if(NOT err MATCHES "engine/graph.cpp:3: engine/ may not include a higher layer: #include \"models/data.hpp\"")
  message(FATAL_ERROR "layer check test: the refusal does not name file, line and include:\n${err}")
endif()

file(WRITE "${WORK_DIR}/engine/graph.cpp" "// fine\n#include \"engine/graph.hpp\"\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${WORK_DIR} -P ${CHECK} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "layer check test: a correctly layered tree was refused:\n${err}")
endif()
