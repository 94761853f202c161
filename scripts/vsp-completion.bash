# bash completion for vsp: subcommands, each command's flags (read from its --help, so they never
# go stale), style and template names, and files elsewhere. Installed by cmake --install; or
#   source scripts/vsp-completion.bash
_vsp() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command="" word
  for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case $word in generate | style | styles | transfer | edit | batch | check) command=$word ;; esac
  done
  case $prev in
    --style) [[ $command != transfer ]] && { COMPREPLY=($(compgen -W "$("$1" styles 2>/dev/null | awk '{print $1}')" -- "$cur")); return; } ;;
    --template) COMPREPLY=($(compgen -W "$("$1" styles --templates 2>/dev/null | awk '{print $1}')" -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$("$1" $command --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)" -- "$cur"))
  elif [[ -z $command && $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "generate style styles transfer edit batch check" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _vsp vsp
