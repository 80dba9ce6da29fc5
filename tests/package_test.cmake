# Package test: cpack builds this build's .deb packages into a fresh directory; dpkg-deb shows that symcheck's
# holds the tool, its man page and completion with Depends computed, libsymgrad-dev's the headers, libraries and
# CMake package; the extracted symcheck package then passes the installed-tool checks. Run by ctest as:
# cmake -DBUILD_DIR=... -DCPACK=... -DWORK_DIR=... -DVERSION=... -DTESTS_DIR=... -DMAN_PAGE=... -P package_test.cmake
foreach(var BUILD_DIR CPACK WORK_DIR VERSION TESTS_DIR MAN_PAGE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "package_test.cmake: -D${var}=... is required")
  endif()
endforeach()
include("${TESTS_DIR}/installed_tool_checks.cmake")
file(REMOVE_RECURSE "${WORK_DIR}")

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test: ${step} failed (${rc})\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# fail_unless(TEXT REGEX WHAT): the dpkg-deb output TEXT must match REGEX.
function(fail_unless text regex what)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "package test: ${what}\n${text}")
  endif()
endfunction()

find_program(DPKG_DEB dpkg-deb)
if(NOT DPKG_DEB)
  message(FATAL_ERROR "package test: dpkg-deb not found (Debian's dpkg-dev; scripts/install-deps.sh installs it)")
endif()
run("cpack" "${CPACK}" --config "${BUILD_DIR}/CPackConfig.cmake" -G DEB -B "${WORK_DIR}")
foreach(package symcheck libsymgrad-dev)
  file(GLOB deb "${WORK_DIR}/${package}_${VERSION}_*.deb")
  list(LENGTH deb count)
  if(NOT count EQUAL 1)
    file(GLOB all "${WORK_DIR}/*.deb")
    message(FATAL_ERROR "package test: expected one ${package}_${VERSION}_*.deb, found: ${all}")
  endif()
  set(${package}_deb "${deb}")
endforeach()

run("dpkg-deb -I symcheck" ${DPKG_DEB} -I "${symcheck_deb}")
fail_unless("${last_output}" "\n Package: symcheck\n" "the symcheck package is not named symcheck")
fail_unless("${last_output}" "\n Version: ${VERSION}\n" "the symcheck package's version is not ${VERSION}")
# Computed by dpkg-shlibdeps from the binary's shared libraries, not written by hand: the C library and Boost's.
fail_unless("${last_output}" "\n Depends: [^\n]*libc6[^\n]*\n" "symcheck's Depends lacks libc6")
fail_unless("${last_output}" "\n Depends: [^\n]*libboost-program-options[^\n]*\n" "symcheck's Depends lacks Boost")
run("dpkg-deb -c symcheck" ${DPKG_DEB} -c "${symcheck_deb}")
foreach(f usr/bin/symcheck usr/share/bash-completion/completions/symcheck)
  fail_unless("${last_output}" " \\./${f}\n" "the symcheck package lacks /${f}")
endforeach()
if(MAN_PAGE)
  fail_unless("${last_output}" " \\./usr/share/man/man1/symcheck\\.1\\.gz\n" "the symcheck package lacks its man page")
endif()
if(last_output MATCHES " \\./usr/include/|\\.a\n")
  message(FATAL_ERROR "package test: the symcheck package holds library files\n${last_output}")
endif()

run("dpkg-deb -I libsymgrad-dev" ${DPKG_DEB} -I "${libsymgrad-dev_deb}")
fail_unless("${last_output}" "\n Depends: [^\n]*libxtensor-dev[^\n]*\n" "libsymgrad-dev's Depends lacks libxtensor-dev")
run("dpkg-deb -c libsymgrad-dev" ${DPKG_DEB} -c "${libsymgrad-dev_deb}")
foreach(f include/symgrad/engine/graph\\.hpp include/symgrad/models/mlp\\.hpp lib/[^\n]*libsymgrad_engine\\.a
          lib/[^\n]*cmake/symgrad/symgradConfig\\.cmake lib/[^\n]*cmake/symgrad/symgradTargets\\.cmake)
  fail_unless("${last_output}" " \\./usr/${f}\n" "the libsymgrad-dev package lacks /usr/${f}")
endforeach()
if(last_output MATCHES "/bin/")
  message(FATAL_ERROR "package test: the libsymgrad-dev package holds programs\n${last_output}")
endif()

# What a machine gets from the package: the extracted tree passes the same checks as an install prefix.
run("dpkg-deb -x symcheck" ${DPKG_DEB} -x "${symcheck_deb}" "${WORK_DIR}/root")
check_installed_symcheck("${WORK_DIR}/root/usr" "${VERSION}" "${WORK_DIR}" "${TESTS_DIR}" "${MAN_PAGE}")
message("package test: ${symcheck_deb} and ${libsymgrad-dev_deb} checked")
