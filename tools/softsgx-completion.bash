# bash completion for softsgx                                -*- shell-script -*-
#
# Installed by `make install` as $(PREFIX)/share/bash-completion/completions/softsgx,
# where bash-completion loads it the first time softsgx is completed; or
# source this file from ~/.bashrc.
#
# The commands and their options are read from the help of the softsgx
# being completed (`softsgx --help`, `softsgx COMMAND --help`), as
# bash-completion's _longopt does for GNU programs: the completion always
# matches the installed version, and a new command or option needs no
# change here. An option's argument is completed as a file name when its
# help calls it FILE or KEY; after `softsgx run [OPTIONS] [--]` the program
# and its own arguments are completed as for the program itself.

# The commands of softsgx $1: "  NAME     summary" lines of its help.
_softsgx_commands()
{
	"$1" --help 2>/dev/null | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p'
}

# "--option ARG" (ARG empty when it takes none) per option of command $2 of softsgx $1.
_softsgx_options()
{
	"$1" "$2" --help 2>/dev/null |
		sed -n -E 's/^ {1,6}(-[a-zA-Z], )?(--[a-z0-9-]+)( ([A-Z][A-Z]*))?.*/\2 \4/p'
}

_softsgx()
{
	local bin=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=
	local cmd= cmd_i=0 prog_i= i w opt arg kind= opts= arg_opts=

	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# "--trace=FILE" arrives as "--trace" "=" "FILE" (= is a word break).
	if [[ $prev == = && COMP_CWORD -gt 1 ]]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == = ]]; then
		cur=
	fi

	# The command: the first word after softsgx that is not an option.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w != -* ]]; then
			cmd=$w
			cmd_i=$i
			break
		fi
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_softsgx_commands "$bin")" -- "$cur"))
		fi
		return 0
	fi
	case $cmd in
	help)
		((COMP_CWORD == cmd_i + 1)) &&
			COMPREPLY=($(compgen -W "$(_softsgx_commands "$bin")" -- "$cur"))
		return 0
		;;
	version)
		return 0
		;;
	esac

	while read -r opt arg; do
		opts+=" $opt"
		[[ -n $arg ]] && arg_opts+=" $opt=$arg"
	done < <(_softsgx_options "$bin" "$cmd")

	# run: the program starts at "--" or at the first word that is no option.
	if [[ $cmd == run ]]; then
		for ((i = cmd_i + 1; i < COMP_CWORD; i++)); do
			w=${COMP_WORDS[i]}
			if [[ $w == -- ]]; then
				prog_i=$((i + 1))
				break
			elif [[ $w != -* ]]; then
				prog_i=$i
				break
			elif [[ " $arg_opts " == *" $w="* && ${COMP_WORDS[i + 1]} != = ]]; then
				((i++)) # the option's argument
			elif [[ ${COMP_WORDS[i + 1]} == = ]]; then
				((i += 2))
			fi
		done
		if [[ -n $prog_i ]]; then
			if ((COMP_CWORD == prog_i)); then
				if [[ $cur == */* ]]; then
					COMPREPLY=($(compgen -f -- "$cur"))
				else
					COMPREPLY=($(compgen -c -- "$cur" | sort -u))
				fi
			elif declare -F _command_offset >/dev/null; then
				_command_offset "$prog_i"
			else
				COMPREPLY=($(compgen -f -- "$cur"))
			fi
			return 0
		fi
	fi

	# The argument of an option.
	for opt in $arg_opts; do
		[[ ${opt%%=*} == "$prev" ]] && kind=${opt#*=}
	done
	if [[ -n $kind ]]; then
		case $kind in
		FILE | KEY) COMPREPLY=($(compgen -f -- "$cur")) ;;
		esac
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $cmd == run ]]; then
		COMPREPLY=($(compgen -c -- "$cur" | sort -u))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
	return 0
}

complete -o filenames -F _softsgx softsgx
