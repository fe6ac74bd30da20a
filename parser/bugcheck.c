#include <config.h>

#include <stdlib.h>

#include "bugcheck.h"
#include "cleanup.h"

/*
 * Names as in the WDK's bugcodes.h and Microsoft's "Bug check code
 * reference". The common codes only; an unknown code is shown as a number.
 * Keep it sorted by code (tests/test_bugcheck.c checks).
 */
static const struct bugcheck_entry table[] = {
    { 0x00000001, "APC_INDEX_MISMATCH" },
    { 0x00000009, "IRQL_NOT_GREATER_OR_EQUAL" },
    { 0x0000000A, "IRQL_NOT_LESS_OR_EQUAL" },
    { 0x00000012, "TRAP_CAUSE_UNKNOWN" },
    { 0x00000018, "REFERENCE_BY_POINTER" },
    { 0x00000019, "BAD_POOL_HEADER" },
    { 0x0000001A, "MEMORY_MANAGEMENT" },
    { 0x0000001E, "KMODE_EXCEPTION_NOT_HANDLED" },
    { 0x00000020, "KERNEL_APC_PENDING_DURING_EXIT" },
    { 0x00000023, "FAT_FILE_SYSTEM" },
    { 0x00000024, "NTFS_FILE_SYSTEM" },
    { 0x00000027, "RDR_FILE_SYSTEM" },
    { 0x0000002E, "DATA_BUS_ERROR" },
    { 0x00000035, "NO_MORE_IRP_STACK_LOCATIONS" },
    { 0x0000003B, "SYSTEM_SERVICE_EXCEPTION" },
    { 0x0000003D, "INTERRUPT_EXCEPTION_NOT_HANDLED" },
    { 0x0000003E, "MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED" },
    { 0x0000003F, "NO_MORE_SYSTEM_PTES" },
    { 0x00000044, "MULTIPLE_IRP_COMPLETE_REQUESTS" },
    { 0x0000004E, "PFN_LIST_CORRUPT" },
    { 0x00000050, "PAGE_FAULT_IN_NONPAGED_AREA" },
    { 0x00000051, "REGISTRY_ERROR" },
    { 0x0000005A, "CRITICAL_SERVICE_FAILED" },
    { 0x0000005C, "HAL_INITIALIZATION_FAILED" },
    { 0x00000067, "CONFIG_INITIALIZATION_FAILED" },
    { 0x0000006B, "PROCESS1_INITIALIZATION_FAILED" },
    { 0x00000074, "BAD_SYSTEM_CONFIG_INFO" },
    { 0x00000077, "KERNEL_STACK_INPAGE_ERROR" },
    { 0x0000007A, "KERNEL_DATA_INPAGE_ERROR" },
    { 0x0000007B, "INACCESSIBLE_BOOT_DEVICE" },
    { 0x0000007E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED" },
    { 0x0000007F, "UNEXPECTED_KERNEL_MODE_TRAP" },
    { 0x00000080, "NMI_HARDWARE_FAILURE" },
    { 0x0000008E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED" },
    { 0x0000009C, "MACHINE_CHECK_EXCEPTION" },
    { 0x0000009E, "USER_MODE_HEALTH_MONITOR" },
    { 0x0000009F, "DRIVER_POWER_STATE_FAILURE" },
    { 0x000000A0, "INTERNAL_POWER_ERROR" },
    { 0x000000A5, "ACPI_BIOS_ERROR" },
    { 0x000000BE, "ATTEMPTED_WRITE_TO_READONLY_MEMORY" },
    { 0x000000C1, "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION" },
    { 0x000000C2, "BAD_POOL_CALLER" },
    { 0x000000C4, "DRIVER_VERIFIER_DETECTED_VIOLATION" },
    { 0x000000C5, "DRIVER_CORRUPTED_EXPOOL" },
    { 0x000000CA, "PNP_DETECTED_FATAL_ERROR" },
    { 0x000000CE, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS" },
    { 0x000000D1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL" },
    { 0x000000D5, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL" },
    { 0x000000E2, "MANUALLY_INITIATED_CRASH" },
    { 0x000000EA, "THREAD_STUCK_IN_DEVICE_DRIVER" },
    { 0x000000ED, "UNMOUNTABLE_BOOT_VOLUME" },
    { 0x000000EF, "CRITICAL_PROCESS_DIED" },
    { 0x000000F4, "CRITICAL_OBJECT_TERMINATION" },
    { 0x000000F7, "DRIVER_OVERRAN_STACK_BUFFER" },
    { 0x000000FC, "ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY" },
    { 0x000000FE, "BUGCODE_USB_DRIVER" },
    { 0x00000101, "CLOCK_WATCHDOG_TIMEOUT" },
    { 0x00000109, "CRITICAL_STRUCTURE_CORRUPTION" },
    { 0x0000010D, "WDF_VIOLATION" },
    { 0x00000116, "VIDEO_TDR_FAILURE" },
    { 0x00000119, "VIDEO_SCHEDULER_INTERNAL_ERROR" },
    { 0x00000124, "WHEA_UNCORRECTABLE_ERROR" },
    { 0x00000133, "DPC_WATCHDOG_VIOLATION" },
    { 0x00000139, "KERNEL_SECURITY_CHECK_FAILURE" },
    { 0x0000013A, "KERNEL_MODE_HEAP_CORRUPTION" },
    { 0x00000144, "BUGCODE_USB3_DRIVER" },
    { 0x00000154, "UNEXPECTED_STORE_EXCEPTION" },
    { 0x00000189, "BAD_OBJECT_HEADER" },
    { 0x0000018B, "SECURE_KERNEL_ERROR" },
    { 0x000001C8, "MANUALLY_INITIATED_POWER_BUTTON_HOLD" },
    { 0x000001CA, "SYNTHETIC_WATCHDOG_TIMEOUT" },
    { 0x00020001, "HYPERVISOR_ERROR" },
    { 0x1000007E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M" },
    { 0x1000007F, "UNEXPECTED_KERNEL_MODE_TRAP_M" },
    { 0x1000008E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED_M" },
    { 0x100000EA, "THREAD_STUCK_IN_DEVICE_DRIVER_M" },
    { 0xC000021A, "WINLOGON_FATAL_ERROR" },
    { 0xDEADDEAD, "MANUALLY_INITIATED_CRASH1" },
};

static int
cmp_code(const void *key, const void *elem)
{
    uint32_t k = *(const uint32_t *)key;
    uint32_t c = ((const struct bugcheck_entry *)elem)->code;

    return k < c ? -1 : k > c;
}

static const char *
lookup(uint32_t code)
{
    const struct bugcheck_entry *e =
        bsearch(&code, table, ARRAY_SIZE(table), sizeof(table[0]), cmp_code);

    return e ? e->name : NULL;
}

const char *
bugcheck_name(uint64_t code)
{
    const char *name;

    /* the MSR is 64 bits wide; a bugcheck code is a ULONG */
    if (code > UINT32_MAX)
        return NULL;
    if ((name = lookup((uint32_t)code)))
        return name;
    /* only 0x1xxxxxxx: 0xDEADDEAD has the bit too and is a code of its own */
    if ((code & 0xF0000000u) == BUGCHECK_M_FLAG)
        return lookup((uint32_t)code & ~BUGCHECK_M_FLAG);
    return NULL;
}

const struct bugcheck_entry *
bugcheck_table(size_t *count)
{
    *count = ARRAY_SIZE(table);
    return table;
}
