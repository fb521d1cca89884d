set -x
motlib-reproduce jde_table1 --preset quick --device cuda
motlib-reproduce fairmot_table1 --preset quick --device cuda
motlib-reproduce jde_table3 --preset quick --device cuda
