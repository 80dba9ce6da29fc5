# symgrad_layer(NAME [DEPENDS lib...] [PRIVATE_DEPENDS lib...]): the library of one layer folder, built from
# the folder's *.cpp as target symgrad_<NAME> (alias symgrad::<NAME>). It links only what DEPENDS names, so a
# call into a higher layer fails to link, and it waits for symgrad_layer_check, so an include of a higher
# layer's header fails the build (cmake/check_layers.cmake).
function(symgrad_layer name)
  cmake_parse_arguments(L "" "" "DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(symgrad_${name} ${sources})
  add_library(symgrad::${name} ALIAS symgrad_${name})
  target_include_directories(symgrad_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:include/symgrad>)
  target_link_libraries(symgrad_${name} PUBLIC ${L_DEPENDS} PRIVATE ${L_PRIVATE_DEPENDS})
  target_compile_options(symgrad_${name} PRIVATE ${SYMGRAD_WARNINGS})
  set_target_properties(symgrad_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME ${name})
  add_dependencies(symgrad_${name} symgrad_layer_check)
  # The fuzzers compile every layer's sources once more with their own flags (fuzz/CMakeLists.txt).
  set_property(GLOBAL APPEND PROPERTY SYMGRAD_SOURCES ${sources})
  set_property(GLOBAL APPEND PROPERTY SYMGRAD_LAYERS symgrad_${name})
endfunction()
