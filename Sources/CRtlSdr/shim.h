#include <rtl-sdr.h>
