# mutant-build.sh - sourced by tests/xsa-mutants.sh and tests/linux-replay.sh: pvmmu built against a copy of
# core/ with one deliberate edit (a mutant), so a test can show that the check it takes out is caught.
# The caller sets CC and MUTANT_FLAGS (C flags for every object: the standard, an -O level, -w, -I...).

# mutant_host_objects OUT: everything of pvmmu but core/ compiled once into OUT/obj.  0, or 2 after a line.
mutant_host_objects() {
    rm -rf "$1/obj"; mkdir -p "$1/obj"
    for f in cli/*.c script/*.c oracle/*.c explain/*.c guest/*.c lib/*.c platform/host/*.c platform/xen/xenprog.c; do
        [ "$f" = lib/rt.c ] && continue   # libc's memcpy and friends serve a hosted link
        case $f in
            guest/*|lib/*) extra="-ffreestanding -fno-builtin" ;;
            *) extra="-D_POSIX_C_SOURCE=200809L -Icli -Iscript -Ioracle -Iexplain -Iguest -Iplatform/host -Iplatform/xen" ;;
        esac
        # shellcheck disable=SC2086
        $CC $MUTANT_FLAGS $extra -c "$f" -o "$1/obj/$(echo "$f" | tr / _).o" || { echo "mutants: cannot compile $f"; return 2; }
    done
}

# mutant_build OUT NAME "FILE..." PERL-SUBSTITUTION CALLER: OUT/NAME/core is core/ with the substitution applied
# to each FILE (it must change every one), OUT/NAME/pvmmu links it with OUT/obj.  0, or 1 after one line
# saying what failed (an edit that no longer applies names CALLER, the script to update).
mutant_build() {
    d="$1/$2"; rm -rf "$d"; mkdir -p "$d"; cp -r core "$d/core"
    for f in $3; do
        perl -0pi -e "$4" "$d/core/$f"
        if cmp -s "core/$f" "$d/core/$f"; then
            echo "mutant $2: the edit to core/$f no longer applies - update $5"; return 1
        fi
    done
    for c in "$d"/core/*.c; do
        # shellcheck disable=SC2086
        $CC $MUTANT_FLAGS -ffreestanding -fno-builtin -c "$c" -o "${c%.c}.o" || { echo "mutant $2: does not compile"; return 1; }
    done
    $CC -o "$d/pvmmu" "$1"/obj/*.o "$d"/core/*.o || { echo "mutant $2: does not link"; return 1; }
}
