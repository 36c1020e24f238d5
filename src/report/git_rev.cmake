# Writes OUT (a header defining GILBENCH_GIT_REV and GILBENCH_GIT_DATE), run at
# every build so the revision in result files is never stale; the file is
# rewritten only when the revision changes, so nothing rebuilds needlessly.
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE rc ERROR_QUIET)
set(date "unknown")
if(NOT rc EQUAL 0 OR NOT rev)
  set(rev "unknown")
else()
  # The commit's date (committer, ISO 8601): history orders results by it.
  execute_process(COMMAND git log -1 --format=%cI HEAD
                  WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE date OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  execute_process(COMMAND git status --porcelain --untracked-files=no
                  WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(dirty)
    set(rev "${rev}-dirty")
  endif()
endif()
set(content "#pragma once\n#define GILBENCH_GIT_REV \"${rev}\"\n#define GILBENCH_GIT_DATE \"${date}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${content}")
  file(WRITE ${OUT} "${content}")
endif()
