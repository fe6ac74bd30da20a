noinst_LIBRARIES += common/libcommon.a
common_libcommon_a_SOURCES = \
	common/cleanup.h \
	common/conf.c common/conf.h \
	common/fileutil.c common/fileutil.h \
	common/log.c common/log.h \
	common/runcmd.c common/runcmd.h \
	common/strbuf.c common/strbuf.h \
	common/xalloc.c common/xalloc.h \
	$(NULL)
