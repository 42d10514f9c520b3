# bash completion for ztgate(8): commands and their options, read from the
# CLI's own --help so they never drift from its command table.
_ztgate()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--socket|--out|-f|--file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--role) COMPREPLY=($(compgen -W "enforce client connector relay controller" -- "$cur")); return ;;
	--deny-mode) COMPREPLY=($(compgen -W "drop reject" -- "$cur")); return ;;
	esac
	# The command's words typed so far, options and their values left out.
	local typed=() i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket|--role|--out|-f|--file|--address|--tcp|--udp|--deny-mode|--connector|--pubkey|--endpoint|--relay) ((i++)) ;;
		-*) ;;
		*) typed+=("${COMP_WORDS[i]}") ;;
		esac
	done
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(ztgate "${typed[@]}" --help 2>/dev/null |
			grep -o -- '--[a-z][a-z-]*' | sort -u) --json --socket --role --help" -- "$cur"))
		return
	fi
	# Each command's words are the lower-case words at the start of its help line.
	COMPREPLY=($(compgen -W "$(ztgate --help 2>/dev/null |
		awk -v typed="${typed[*]}" '
			/^  [a-z]/ {
				n = 0
				for (i = 1; i <= NF && $i ~ /^[a-z]+$/; i++) w[++n] = $i
				t = split(typed, tw, " ")
				if (t >= n) next
				for (i = 1; i <= t; i++) if (tw[i] != w[i]) next
				print w[t + 1]
			}' | sort -u)" -- "$cur"))
}
complete -F _ztgate ztgate
