/* sysuser.c - the public header beside <sys/user.h> (PAGE_SIZE, PAGE_SHIFT): compiled by tests/embed.sh. */
#include <sys/user.h>
#include <pvmmu/pvmmu.h>

int page_sizes_agree(void);
int page_sizes_agree(void)
{
    return PAGE_SIZE == XEN_PAGE_SIZE && PAGE_SHIFT == XEN_PAGE_SHIFT;
}
