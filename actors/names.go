package actors

import "reflect"

func fmtType(m any) string { return reflect.TypeOf(m).String() }
