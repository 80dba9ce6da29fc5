# Checks of an installed symcheck, shared by install_test.cmake (a cmake --install prefix) and package_test.cmake
# (an extracted .deb): the binary runs, its man page has an entry for every option --help lists, and its bash
# completion completes option names and values (tests/completion_test.sh).

function(tool_check_fail what)
  message(FATAL_ERROR "installed symcheck: ${what}")
endfunction()

# The man page's text with roff's escapes for '-' and fonts removed, read plain or gzipped.
function(read_man_page root out_var)
  set(dir "${root}/share/man/man1")
  if(EXISTS "${dir}/symcheck.1.gz")
    execute_process(COMMAND gzip -dc "${dir}/symcheck.1.gz" RESULT_VARIABLE rc OUTPUT_VARIABLE man)
    if(NOT rc EQUAL 0)
      tool_check_fail("${dir}/symcheck.1.gz is not gzip")
    endif()
  elseif(EXISTS "${dir}/symcheck.1")
    file(READ "${dir}/symcheck.1" man)
  else()
    tool_check_fail("no man page in ${dir}")
  endif()
  string(REPLACE "\\-" "-" man "${man}")
  string(REGEX REPLACE "\\\\f[BIRP]|\\\\[,/&]" "" man "${man}")
  set(${out_var} "${man}" PARENT_SCOPE)
endfunction()

# check_installed_symcheck(ROOT VERSION WORK_DIR TESTS_DIR MAN_PAGE): ROOT holds bin/, share/.
function(check_installed_symcheck root version work_dir tests_dir man_page)
  set(exe "${root}/bin/symcheck")
  execute_process(COMMAND "${exe}" --version RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL "symcheck ${version}\n")
    tool_check_fail("${exe} --version exited ${rc} printing '${out}${err}', expected 'symcheck ${version}'")
  endif()
  execute_process(COMMAND "${exe}" --help RESULT_VARIABLE rc OUTPUT_VARIABLE help)
  # Boost's layout: an option line starts with two spaces, then "--name" or "-q [ --name ]".
  string(REGEX MATCHALL "\n  (-[A-Za-z] \\[ )?--[A-Za-z0-9-]+" listed "\n${help}")
  list(LENGTH listed count)
  if(count LESS 20)
    tool_check_fail("read only ${count} options from --help")
  endif()
  if(man_page)
    read_man_page("${root}" man)
    if(NOT man MATCHES "\n\\.TH SYMCHECK \"1\" \"[^\"]+\" \"symcheck ${version}\"")
      tool_check_fail("the man page has no .TH line for symcheck ${version}")
    endif()
    foreach(entry IN LISTS listed)
      string(REGEX MATCH "--[A-Za-z0-9-]+" option "${entry}")
      # Each option is an entry (.TP, then its line), not just a word in another option's text.
      if(NOT man MATCHES "\n\\.TP\n[^\n]*${option}([^A-Za-z0-9-]|\n)")
        tool_check_fail("the man page has no entry for ${option}, which --help lists")
      endif()
    endforeach()
  endif()
  set(completion "${root}/share/bash-completion/completions/symcheck")
  if(NOT EXISTS "${completion}")
    tool_check_fail("no bash completion at ${completion}")
  endif()
  execute_process(COMMAND bash --norc --noprofile "${tests_dir}/completion_test.sh" "${completion}" "${root}/bin"
                          "${work_dir}/completion"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    tool_check_fail("the bash completion test failed (${rc})\n${out}${err}")
  endif()
endfunction()
